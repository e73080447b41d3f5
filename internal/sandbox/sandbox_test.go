package sandbox

import (
	"context"
	"testing"
)

func TestGoodModuleRunsTheWholeSequence(t *testing.T) {
	s := newSandbox(t, Config{})
	rep, err := s.Run(context.Background(), Input{
		Wasm: fixture(t, "good"), PluginName: "my-plugin", PluginConfig: []byte(`{"k":"v"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "info: hello from stdout\ninfo: my-plugin\ninfo: {\"k\":\"v\"}\ninfo: configured\n" +
		"debug: request_headers\ndebug: /\ndebug: request_body\ndebug: response_headers\n" +
		"debug: done\ndebug: log\ndebug: delete"
	if got := logText(rep.Logs); got != want {
		t.Errorf("logs:\n%s\nwant:\n%s", got, want)
	}
	if rep.ABI != abi021 || rep.EntryPoint != "_initialize" || rep.Allocator != "proxy_on_memory_allocate" {
		t.Errorf("report %+v", rep)
	}
	if rep.Compile <= 0 || rep.Run <= 0 || rep.PeakPages != 1 || rep.Cached {
		t.Errorf("report %+v", rep)
	}
	wantContains(t, logText(nil)+joinImports(rep.Imports), "env.proxy_log", "wasi_snapshot_preview1.fd_write")
}

func joinImports(imports []string) string {
	out := ""
	for _, i := range imports {
		out += i + " "
	}
	return out
}

func TestConfigureFalseQuotesTheModulesReason(t *testing.T) {
	s := newSandbox(t, Config{})
	rep, err := s.Run(context.Background(), Input{Wasm: fixture(t, "configure_false")})
	wantSentinel(t, err, ErrConfigureFailed)
	wantContains(t, err.Error(), "proxy_on_configure returned false", `invalid configuration: missing field "upstream"`)
	if len(rep.Logs) != 2 || rep.Allocator != "malloc" {
		t.Errorf("report %+v", rep)
	}
}

func TestTrapNamesTheFunction(t *testing.T) {
	s := newSandbox(t, Config{})
	rep, err := s.Run(context.Background(), Input{Wasm: fixture(t, "configure_trap")})
	wantSentinel(t, err, ErrTrapped)
	wantContains(t, err.Error(), "in proxy_on_configure", "unreachable")
	wantContains(t, logText(rep.Logs), "error: panicked at 'bad config'")
	if rep.EntryPoint != "_start" {
		t.Errorf("entry point %q", rep.EntryPoint)
	}
}

func TestInfiniteLoopsTimeOut(t *testing.T) {
	for _, name := range []string{"loop_initialize", "loop_configure"} {
		t.Run(name, func(t *testing.T) {
			s := newSandbox(t, Config{Timeout: 300 * 1e6})
			rep, err := s.Run(context.Background(), Input{Wasm: fixture(t, name)})
			wantSentinel(t, err, ErrTimeout)
			where := map[string]string{"loop_initialize": "_initialize", "loop_configure": "proxy_on_configure"}[name]
			wantContains(t, err.Error(), where, "300ms")
			if rep.Run > testTimeout {
				t.Errorf("the run took %s", rep.Run)
			}
		})
	}
}

func TestMemoryGrownUntilTheCap(t *testing.T) {
	s := newSandbox(t, Config{MemoryLimitPages: 256})
	rep, err := s.Run(context.Background(), Input{Wasm: fixture(t, "memory_bomb")})
	wantSentinel(t, err, ErrMemoryLimit)
	wantContains(t, err.Error(), "of 256 pages", "proxy_on_configure", "unreachable")
	if rep.PeakPages < 240 || rep.PeakPages > 256 {
		t.Errorf("peak pages %d", rep.PeakPages)
	}
}

func TestInitialMemoryOverTheCap(t *testing.T) {
	s := newSandbox(t, Config{MemoryLimitPages: 256})
	_, err := s.Run(context.Background(), Input{Wasm: fixture(t, "memory_initial")})
	wantSentinel(t, err, ErrMemoryLimit)
	wantContains(t, err.Error(), "300 pages")

	// The default limit is well above the 17 MiB real modules start with.
	if _, err := newSandbox(t, Config{}).Run(context.Background(), Input{Wasm: fixture(t, "memory_initial")}); err != nil {
		t.Errorf("default limit: %v", err)
	}
}

func TestLogFloodIsCapped(t *testing.T) {
	s := newSandbox(t, Config{MaxLogBytes: 4096})
	rep, err := s.Run(context.Background(), Input{Wasm: fixture(t, "log_flood")})
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, l := range rep.Logs {
		kept += len(l.Message)
	}
	if kept != 4096 || rep.LogsDropped != 1<<30-4096 {
		t.Errorf("kept %d bytes in %d lines, dropped %d", kept, len(rep.Logs), rep.LogsDropped)
	}
}

func TestMissingImport(t *testing.T) {
	s := newSandbox(t, Config{})
	rep, err := s.Run(context.Background(), Input{Wasm: fixture(t, "missing_import")})
	wantSentinel(t, err, ErrMissingImport)
	wantContains(t, err.Error(), "env.missing")
	if len(rep.Imports) != 2 || rep.Run != 0 {
		t.Errorf("report %+v", rep)
	}
}

func TestWrongCallbackSignature(t *testing.T) {
	s := newSandbox(t, Config{})
	_, err := s.Run(context.Background(), Input{Wasm: fixture(t, "bad_signature")})
	wantSentinel(t, err, ErrInvalidABI)
	wantContains(t, err.Error(), "proxy_on_configure as (i32,i32,i32,i32)->i32", "(i32,i32)->i32")

	_, err = s.Run(context.Background(), Input{Wasm: fixture(t, "headers_v010_in_v021")})
	wantSentinel(t, err, ErrInvalidABI)
	wantContains(t, err.Error(), "proxy_on_request_headers as (i32,i32)->i32", "(i32,i32,i32)->i32")
}

func TestABISpecificImports(t *testing.T) {
	s := newSandbox(t, Config{})
	_, err := s.Run(context.Background(), Input{Wasm: fixture(t, "abi_mismatch")})
	wantSentinel(t, err, ErrMissingImport)
	wantContains(t, err.Error(), "env.proxy_get_configuration", "Proxy-Wasm ABI 0.2.1")

	rep, err := s.Run(context.Background(), Input{Wasm: fixture(t, "abi_v010"), PluginConfig: []byte("cfg-0.1")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := logText(rep.Logs), "info: cfg-0.1\ninfo: request_headers\ninfo: response_headers"; got != want {
		t.Errorf("logs %q, want %q", got, want)
	}
}

func TestAllocatorIsChecked(t *testing.T) {
	s := newSandbox(t, Config{})
	_, err := s.Run(context.Background(), Input{Wasm: fixture(t, "bad_allocator")})
	wantSentinel(t, err, ErrInvalidABI)
	wantContains(t, err.Error(), "malloc as (i64)->i64", "(i32)->i32")

	_, err = s.Run(context.Background(), Input{Wasm: fixture(t, "no_allocator")})
	wantSentinel(t, err, ErrInvalidABI)
	wantContains(t, err.Error(), "neither proxy_on_memory_allocate nor malloc")
}
