package oci_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
)

// BenchmarkFetch fetches a 1 MiB CNCF module from the in-process registry:
// one manifest GET and one blob GET per iteration, digests verified.
func BenchmarkFetch(b *testing.B) {
	reg := ocitest.NewRegistry(b)
	wasm := module(string(bytes.Repeat([]byte{0xab}, 1<<20)))
	d := push(b, reg, "acme/bench:1", oci.FormatCNCF, wasm)
	f := oci.NewFetcher(oci.Options{})
	req := oci.Request{Image: reg.Ref("acme/bench:1"), Insecure: true}
	ctx := context.Background()
	b.SetBytes(int64(len(wasm)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := f.Fetch(ctx, req, d)
		if err != nil {
			b.Fatal(err)
		}
		if m.Size != int64(len(wasm)) {
			b.Fatalf("size %d", m.Size)
		}
	}
}
