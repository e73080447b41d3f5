package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/wasmext/wasmext/internal/wasm"
)

func TestModulesAreDistinctProxyWasm(t *testing.T) {
	seen := map[[32]byte]bool{}
	for i := range 3 {
		w := moduleWasm(i)
		if seen[sha256.Sum256(w)] {
			t.Fatalf("module %d repeats a digest", i)
		}
		seen[sha256.Sum256(w)] = true
		if _, err := wasm.Inspect(context.Background(), w); err != nil {
			t.Fatalf("module %d: %v", i, err)
		}
	}
}

func TestOperatorArgs(t *testing.T) {
	o, err := parseFlags(flag.NewFlagSet("t", flag.ContinueOnError), []string{"-concurrent", "4", "-args", "--a=1 --b=2"})
	if err != nil {
		t.Fatal(err)
	}
	o.work = "/w"
	args := operatorArgs(o)
	for _, want := range []string{"--module-cache-dir=/w/modules", "--concurrent=4", "--a=1", "--b=2"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	o.memCache = true
	if got := strings.Join(operatorArgs(o), " "); strings.Contains(got, "--module-cache-dir") {
		t.Errorf("-memory-cache: %s", got)
	}
	if _, err := parseFlags(flag.NewFlagSet("t", flag.ContinueOnError), []string{"-modules", "0"}); err == nil {
		t.Error("-modules 0 accepted")
	}
}
