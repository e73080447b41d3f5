package module

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// TestLoadOncePerDigest: 16 concurrent loads of one digest and 16 more
// afterwards make exactly one blob pull; exactly one caller reports it.
func TestLoadOncePerDigest(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ctx := context.Background()
	d, err := ocitest.Push(ctx, reg.Host, "acme/f:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLoader(oci.NewFetcher(oci.Options{}), 8)
	req := oci.Request{Image: reg.Ref("acme/f:v1"), Insecure: true}
	reg.Reset()
	var wg sync.WaitGroup
	var mu sync.Mutex
	pulls := 0
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, pulled, err := l.Load(ctx, req, reg.Host+"/acme/f", d)
			if err != nil || f.ABI != "proxy_abi_version_0_2_1" || f.Size != int64(len(wasmtest.ProxyWasm)) {
				t.Errorf("Load = %+v, %v", f, err)
			}
			if pulled {
				mu.Lock()
				pulls++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if c := reg.Counts(); c.BlobGET != 1 {
		t.Fatalf("blob GETs = %d, want 1", c.BlobGET)
	}
	if pulls != 1 {
		t.Fatalf("%d callers reported a pull, want 1", pulls)
	}
}

// TestLoadFailuresAreNotRemembered: a module that is not Proxy-Wasm fails
// with the wasm sentinel, and a later load tries again.
func TestLoadFailuresAreNotRemembered(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ctx := context.Background()
	d, err := ocitest.Push(ctx, reg.Host, "acme/bad:v1", oci.FormatCNCF, wasmtest.NotProxyWasm)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLoader(oci.NewFetcher(oci.Options{}), 8)
	req := oci.Request{Image: reg.Ref("acme/bad:v1"), Insecure: true}
	for range 2 {
		if _, _, err := l.Load(ctx, req, reg.Host+"/acme/bad", d); !errors.Is(err, wasm.ErrNotProxyWasm) {
			t.Fatalf("Load error = %v, want ErrNotProxyWasm", err)
		}
	}
	if c := reg.Counts(); c.BlobGET != 2 {
		t.Fatalf("blob GETs = %d, want 2 (failures are retried, not cached)", c.BlobGET)
	}
}
