package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	fuzzOnce    sync.Once
	fuzzBox     *Sandbox
	fuzzModule  []byte
	fuzzModErr  error
	fuzzTimeout = 2 * time.Second
)

// FuzzHostPointers hands guest-controlled pointers, lengths and values to
// every host function: testdata/hostcalls.wasm calls the host functions its
// plugin configuration names with the arguments it gives (records of
// [index u8][12 x i32]), and the fuzzer mutates that configuration. No call
// may panic in Go; a dry run may fail only with one of the sentinels, and
// never because a Go runtime error was recovered.
func FuzzHostPointers(f *testing.F) {
	for _, v := range []uint32{0, 8, 65535, 0xfffffff0, 0xffffffff} {
		var cfg []byte
		for fn := range byte(hcFunctionCount) {
			cfg = append(cfg, record(fn, v, v, v, v, v, v, v, v, v, v, v, v)...)
		}
		f.Add(cfg)
	}
	f.Fuzz(func(t *testing.T, cfg []byte) {
		fuzzOnce.Do(func() {
			fuzzBox = New(Config{Timeout: fuzzTimeout, ResultCacheSize: 1, MaxLogBytes: 4096})
			fuzzModule, fuzzModErr = os.ReadFile(filepath.Join("testdata", "hostcalls.wasm"))
		})
		if fuzzModErr != nil {
			t.Fatal(fuzzModErr)
		}
		_, err := fuzzBox.Run(context.Background(), Input{Wasm: fuzzModule, PluginConfig: cfg})
		if err == nil {
			return
		}
		n := 0
		for _, s := range sentinels {
			if errors.Is(err, s) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error wraps %d sentinels: %v", n, err)
		}
		if strings.Contains(err.Error(), "Go runtime stack trace") || strings.Contains(err.Error(), "runtime error") {
			t.Fatalf("a Go panic was recovered: %v", err)
		}
	})
}
