package module

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

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

// gatedFetcher counts the fetches in progress and holds each until gate
// is closed.
type gatedFetcher struct {
	mu           sync.Mutex
	now, peak    int
	gate         chan struct{}
	started      chan struct{}
	wasmByDigest map[digest.Digest][]byte
}

func (g *gatedFetcher) Fetch(_ context.Context, _ oci.Request, d digest.Digest) (*oci.Module, error) {
	g.mu.Lock()
	g.now++
	g.peak = max(g.peak, g.now)
	g.mu.Unlock()
	g.started <- struct{}{}
	<-g.gate
	g.mu.Lock()
	g.now--
	g.mu.Unlock()
	b := g.wasmByDigest[d]
	return &oci.Module{Wasm: b, SHA256: fmt.Sprintf("%x", sha256.Sum256(b))}, nil
}

// TestPullsAreBounded: loads of more distinct digests than MaxPulls fetch
// (and hold the bytes of) at most MaxPulls modules at once, and all end.
func TestPullsAreBounded(t *testing.T) {
	const n = 3 * MaxPulls
	g := &gatedFetcher{gate: make(chan struct{}), started: make(chan struct{}, n), wasmByDigest: map[digest.Digest][]byte{}}
	l := NewLoader(g, 64)
	var ds []digest.Digest
	for i := range n {
		b := wasmtest.Variant(i)
		d := digest.FromBytes(b)
		g.wasmByDigest[d], ds = b, append(ds, d)
	}
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := l.Load(context.Background(), oci.Request{}, "r/x", d); err != nil {
				t.Errorf("Load %s: %v", d, err)
			}
		}()
	}
	for range MaxPulls {
		<-g.started
	}
	select {
	case <-g.started:
		t.Fatalf("a fetch beyond MaxPulls=%d started", MaxPulls)
	default:
	}
	close(g.gate)
	wg.Wait()
	if g.peak != MaxPulls {
		t.Fatalf("peak fetches at once %d, want %d", g.peak, MaxPulls)
	}
}
