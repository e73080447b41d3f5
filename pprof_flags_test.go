package main

import "testing"

// TestParseFlagsPprof: --pprof-bind-address is off by default and, when
// set, is the address the manager serves /debug/pprof/ on.
func TestParseFlagsPprof(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.pprofAddr != "" {
		t.Errorf("default --pprof-bind-address = %q; want empty (off)", o.pprofAddr)
	}
	if o, err = parseFlags([]string{"--pprof-bind-address=127.0.0.1:6060"}); err != nil {
		t.Fatal(err)
	}
	if o.pprofAddr != "127.0.0.1:6060" {
		t.Errorf("--pprof-bind-address = %q; want 127.0.0.1:6060", o.pprofAddr)
	}
}
