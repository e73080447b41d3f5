package sandbox

import (
	"context"
	"testing"
)

func TestProcExitZeroInStartIsAReactorStart(t *testing.T) {
	s := newSandbox(t, Config{})
	rep, err := s.Run(context.Background(), Input{Wasm: fixture(t, "proc_exit"), Env: map[string]string{"GREETING": "hi"}})
	if err != nil {
		t.Fatal(err) // proxy_on_configure traps if _start's state was lost
	}
	if got, want := logText(rep.Logs), "info: started\ninfo: GREETING=hi"; got != want {
		t.Errorf("logs %q, want %q", got, want)
	}
	if rep.EntryPoint != "_start" || rep.ABI != abi010 {
		t.Errorf("report %+v", rep)
	}
}

func TestProcExitNonZeroTraps(t *testing.T) {
	s := newSandbox(t, Config{})
	_, err := s.Run(context.Background(), Input{Wasm: fixture(t, "proc_exit_nonzero")})
	wantSentinel(t, err, ErrTrapped)
	wantContains(t, err.Error(), "_start called proc_exit(3)")
}

func TestStartSection(t *testing.T) {
	s := newSandbox(t, Config{})
	rep, err := s.Run(context.Background(), Input{Wasm: fixture(t, "start_section")})
	if err != nil {
		t.Fatal(err) // proxy_on_configure returns false unless the start section ran
	}
	if rep.EntryPoint != "start section" {
		t.Errorf("entry point %q", rep.EntryPoint)
	}
}

func TestNetworkStream(t *testing.T) {
	s := newSandbox(t, Config{})
	for _, typ := range []string{"NETWORK", "network"} {
		rep, err := s.Run(context.Background(), Input{Wasm: fixture(t, "network"), Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := logText(rep.Logs), "info: new_connection\ninfo: ping\ninfo: connection_close"; got != want {
			t.Errorf("%s: logs %q, want %q", typ, got, want)
		}
	}
	// As an HTTP filter the module gets no connection callbacks.
	rep, err := s.Run(context.Background(), Input{Wasm: fixture(t, "network")})
	if err != nil || len(rep.Logs) != 0 {
		t.Errorf("HTTP: %v, logs %v", err, rep.Logs)
	}
}

func TestProvided(t *testing.T) {
	for name, want := range map[string]bool{
		"env.proxy_log":                                true,
		"env.proxy_get_configuration":                  true, // ABI 0.1.0
		"env.proxy_get_log_level":                      true, // ABI 0.2.1
		"env.pthread_equal":                            true,
		"env.emscripten_notify_memory_growth":          true,
		"wasi_snapshot_preview1.fd_write":              true,
		"wasi_unstable.fd_write":                       true,
		"wasi_snapshot_preview1.poll_oneoff":           true,
		"wasi_unstable.sched_yield":                    true,
		"env.missing":                                  false,
		"wasi_snapshot_preview1.sock_accept":           false, // wazero has it, Envoy does not
		"wasi_snapshot_preview1.path_create_directory": false,
		"proxy_log":                                    false,
	} {
		if got := Provided(name); got != want {
			t.Errorf("Provided(%q) = %v, want %v", name, got, want)
		}
	}
	if providedFor(abi021, "env.proxy_get_configuration") || !providedFor(abi010, "env.proxy_get_configuration") {
		t.Error("proxy_get_configuration must be ABI 0.1.0 only")
	}
	if providedFor(abi020, "env.proxy_get_log_level") || !providedFor(abi021, "env.proxy_get_log_level") {
		t.Error("proxy_get_log_level must be ABI 0.2.1 only")
	}
}

func TestEmulatedHostExportsEveryProvidedFunction(t *testing.T) {
	s := newSandbox(t, Config{})
	for name := range providedAny {
		if _, found := s.hostSigs[name]; !found {
			t.Errorf("%s is allowed but not provided", name)
		}
	}
}
