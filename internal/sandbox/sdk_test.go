package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wasmext/wasmext/internal/sandbox"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// Tests of the dry run against modules from real toolchains and modules
// shaped like them (internal/wasm/wasmtest/testdata/README.md): each must
// pass with an empty plugin configuration, and the ones that check their
// configuration must be refused with their own log line for a bad one.

// newSandbox returns a sandbox with the defaults, closed when t ends.
func newSandbox(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	s := sandbox.New(sandbox.Config{})
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// logged says whether a captured line contains sub.
func logged(logs []sandbox.LogLine, sub string) bool {
	for _, l := range logs {
		if strings.Contains(l.Message, sub) {
			return true
		}
	}
	return false
}

// passCase is a fixture that must pass a dry run with an empty plugin
// configuration, and what the Report must say.
type passCase struct {
	name       string
	in         sandbox.Input
	abi        string
	entryPoint string
	allocator  string
	logs       []string // lines (substrings) the module must have logged
}

func passCases() []passCase {
	return []passCase{
		{"TinyGoStart", sandbox.Input{Wasm: wasmtest.TinyGoStart},
			"proxy_abi_version_0_2_1", "_start", "proxy_on_memory_allocate",
			[]string{"tinygo_start: configured after _start"}},
		{"StartSection", sandbox.Input{Wasm: wasmtest.StartSection},
			"proxy_abi_version_0_2_1", "start section", "proxy_on_memory_allocate",
			[]string{"start_section: configured after the start function"}},
		{"MallocOnly", sandbox.Input{Wasm: wasmtest.MallocOnly, PluginName: "fixture-plugin"},
			"proxy_abi_version_0_2_1", "_initialize", "malloc",
			[]string{"malloc_only: plugin_name=fixture-plugin"}},
		{"WASIUnstable", sandbox.Input{Wasm: wasmtest.WASIUnstable, Env: map[string]string{"GREETING": "hello"}},
			"proxy_abi_version_0_2_0", "_start", "malloc",
			[]string{"wasi_unstable: started", "wasi_unstable: configured"}},
		{"NetworkFilter", sandbox.Input{Wasm: wasmtest.NetworkFilter, Type: "NETWORK"},
			"proxy_abi_version_0_2_1", "_initialize", "proxy_on_memory_allocate",
			[]string{"network_filter: configured", "network_filter: new connection",
				"network_filter: downstream data", "network_filter: downstream connection closed"}},
		{"ABIv010", sandbox.Input{Wasm: wasmtest.ABIv010},
			"proxy_abi_version_0_1_0", "_start", "malloc",
			[]string{"abi_v0_1_0: configured"}},
		{"GoWASIP1", sandbox.Input{Wasm: wasmtest.GoWASIP1},
			"proxy_abi_version_0_2_1", "_initialize", "proxy_on_memory_allocate",
			[]string{`gowasip1: configured (header "")`}},
		{"AssemblyScript", sandbox.Input{Wasm: wasmtest.AssemblyScript, PluginName: wasmtest.AssemblyScriptRootID},
			"proxy_abi_version_0_2_0", "start section", "malloc",
			[]string{`asplugin: configured (header "")`}},
	}
}

// TestSDKFixturesPassWithEmptyConfig runs each fixture with the interpreter
// and with the compiler (the 3 MB Go module takes seconds to compile, so
// not with -short).
func TestSDKFixturesPassWithEmptyConfig(t *testing.T) {
	for _, compiler := range []bool{false, true} {
		s := sandbox.New(sandbox.Config{Compiler: compiler})
		t.Cleanup(func() {
			if err := s.Close(context.Background()); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		for _, tt := range passCases() {
			t.Run(fmt.Sprintf("%s/compiler=%v", tt.name, compiler), func(t *testing.T) {
				if compiler && testing.Short() && len(tt.in.Wasm) > 1<<20 {
					t.Skip("compiling a module of megabytes takes seconds")
				}
				checkPass(t, s, tt)
			})
		}
	}
}

func checkPass(t *testing.T, s *sandbox.Sandbox, tt passCase) {
	t.Helper()
	rep, err := s.Run(context.Background(), tt.in)
	if err != nil {
		t.Fatalf("Run: %v\nlogs: %v", err, rep.Logs)
	}
	if rep.ABI != tt.abi || rep.EntryPoint != tt.entryPoint || rep.Allocator != tt.allocator {
		t.Errorf("ABI, EntryPoint, Allocator = %q, %q, %q; want %q, %q, %q",
			rep.ABI, rep.EntryPoint, rep.Allocator, tt.abi, tt.entryPoint, tt.allocator)
	}
	for _, want := range tt.logs {
		if !logged(rep.Logs, want) {
			t.Errorf("no log line with %q in %v", want, rep.Logs)
		}
	}
}

func TestSDKFixturesPassWithGoodConfig(t *testing.T) {
	config := []byte(`{"header": "x-wasmext", "value": "1"}`)
	tests := []struct {
		name string
		in   sandbox.Input
		log  string
	}{
		{"GoWASIP1", sandbox.Input{Wasm: wasmtest.GoWASIP1, PluginConfig: config},
			`gowasip1: configured (header "x-wasmext")`},
		{"AssemblyScript", sandbox.Input{Wasm: wasmtest.AssemblyScript, PluginConfig: config,
			PluginName: wasmtest.AssemblyScriptRootID}, `asplugin: configured (header "x-wasmext")`},
		{"ABIv010", sandbox.Input{Wasm: wasmtest.ABIv010, PluginConfig: config}, "abi_v0_1_0: configured"},
	}
	s := newSandbox(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := s.Run(context.Background(), tt.in)
			if err != nil {
				t.Fatalf("Run: %v\nlogs: %v", err, rep.Logs)
			}
			if !logged(rep.Logs, tt.log) {
				t.Errorf("no log line with %q in %v", tt.log, rep.Logs)
			}
		})
	}
}

func TestSDKFixturesRefuseBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		in     sandbox.Input
		config string
		want   string // the module's own log line, in the error
	}{
		{"GoWASIP1 unknown key", sandbox.Input{Wasm: wasmtest.GoWASIP1}, `{"unknown": 1}`,
			`gowasip1: invalid plugin configuration: json: unknown field "unknown"`},
		{"GoWASIP1 invalid JSON", sandbox.Input{Wasm: wasmtest.GoWASIP1}, `{"header": `,
			"gowasip1: invalid plugin configuration: unexpected EOF"},
		{"GoWASIP1 header without value", sandbox.Input{Wasm: wasmtest.GoWASIP1}, `{"header": "x-a"}`,
			`gowasip1: invalid plugin configuration: "header" and "value" must be set together`},
		{"AssemblyScript unknown key", sandbox.Input{Wasm: wasmtest.AssemblyScript,
			PluginName: wasmtest.AssemblyScriptRootID}, `{"unknown": "x"}`,
			`asplugin: invalid plugin configuration: unknown key "unknown"`},
		{"AssemblyScript invalid JSON", sandbox.Input{Wasm: wasmtest.AssemblyScript,
			PluginName: wasmtest.AssemblyScriptRootID}, `not json`,
			"asplugin: invalid plugin configuration: expected '{'"},
		{"ABIv010 not an object", sandbox.Input{Wasm: wasmtest.ABIv010}, "x",
			"abi_v0_1_0: the plugin configuration is not a JSON object"},
	}
	s := newSandbox(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.PluginConfig = []byte(tt.config)
			rep, err := s.Run(context.Background(), in)
			if !errors.Is(err, sandbox.ErrConfigureFailed) {
				t.Fatalf("Run = %v, want ErrConfigureFailed\nlogs: %v", err, rep.Logs)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not have the module's line %q", err, tt.want)
			}
		})
	}
}

// TestAssemblyScriptWrongRootID: the SDK aborts (logs at critical level,
// then proc_exit(255)) when no root context is registered under the
// plugin's root id, as it would in Envoy.
func TestAssemblyScriptWrongRootID(t *testing.T) {
	s := newSandbox(t)
	rep, err := s.Run(context.Background(), sandbox.Input{Wasm: wasmtest.AssemblyScript, PluginName: "other"})
	if !errors.Is(err, sandbox.ErrTrapped) {
		t.Fatalf("Run = %v, want ErrTrapped\nlogs: %v", err, rep.Logs)
	}
	if !strings.Contains(err.Error(), "proxy_on_context_create") {
		t.Errorf("error %q does not name proxy_on_context_create", err)
	}
	const want = "Missing root context factory for root id: other"
	if !logged(rep.Logs, want) {
		t.Errorf("no log line with %q in %v", want, rep.Logs)
	}
}
