package wasm

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// BenchmarkInspect measures Inspect (a fresh runtime per call) on the tiny
// fixture, on a module carrying a 1 MiB custom section and on a 2.6 MB
// plugin built by the Go toolchain. The "shared" variants reuse one runtime,
// to justify the choice documented on Inspect.
func BenchmarkInspect(b *testing.B) {
	large := wasmtest.AppendCustomSection(wasmtest.ProxyWasm, "wasmext.padding", bytes.Repeat([]byte{0xab}, 1<<20))
	for _, m := range []struct {
		name string
		wasm []byte
	}{
		{"ProxyWasm", wasmtest.ProxyWasm},
		{"1MiBCustomSection", large},
		{"GoPlugin", goPlugin(b)},
	} {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(m.wasm)))
			for b.Loop() {
				if _, err := Inspect(b.Context(), m.wasm); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(m.name+"/shared", func(b *testing.B) {
			rt := wazero.NewRuntimeWithConfig(b.Context(), runtimeConfig())
			defer rt.Close(context.Background())
			b.ReportAllocs()
			b.SetBytes(int64(len(m.wasm)))
			for b.Loop() {
				if err := precheck(m.wasm); err != nil {
					b.Fatal(err)
				}
				if _, err := inspectWith(b.Context(), rt, m.wasm); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
