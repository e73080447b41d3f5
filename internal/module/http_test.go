package module

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wasmext/wasmext/internal/httpsource"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/wasm"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// countingServer serves body and counts the requests.
func countingServer(t *testing.T, body []byte) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestLoadHTTPOncePerSource: 32 concurrent loads of one URL and sha256
// make one request; the facts name the URL without its query, the digest
// is the sha256, the bytes are kept for the module server.
func TestLoadHTTPOncePerSource(t *testing.T) {
	srv, requests := countingServer(t, wasmtest.ProxyWasm)
	kept := map[string][]byte{}
	var mu sync.Mutex
	l := NewLoader(nil, 8).WithHTTP(httpsource.New(httpsource.Options{})).KeepBytes(func(sha string, b []byte) {
		mu.Lock()
		kept[sha] = b
		mu.Unlock()
	})
	sha := hexSHA(wasmtest.ProxyWasm)
	req := httpsource.Request{URL: srv.URL + "/f.wasm?token=s3cr3t", SHA256: sha}
	var wg sync.WaitGroup
	var pulls atomic.Int64
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, pulled, err := l.LoadHTTP(context.Background(), req)
			want := Facts{Repository: srv.URL + "/f.wasm", Digest: "sha256:" + sha, SHA256: sha, Size: int64(len(wasmtest.ProxyWasm)),
				Format: FormatHTTP, ABI: "proxy_abi_version_0_2_1", Imports: f.Imports}
			if err != nil || f.Repository != want.Repository || f.Digest != want.Digest || f.Format != want.Format || f.ABI != want.ABI || f.Size != want.Size {
				t.Errorf("LoadHTTP = %+v, %v; want %+v", f, err, want)
			}
			if pulled {
				pulls.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := requests.Load(); n != 1 {
		t.Fatalf("HTTP requests = %d, want 1", n)
	}
	if pulls.Load() != 1 {
		t.Fatalf("%d callers reported a pull, want 1", pulls.Load())
	}
	if string(kept[sha]) != string(wasmtest.ProxyWasm) {
		t.Fatal("the bytes were not handed to KeepBytes")
	}
	b, err := l.BytesHTTP(context.Background(), req)
	if err != nil || string(b) != string(wasmtest.ProxyWasm) || requests.Load() != 2 {
		t.Fatalf("BytesHTTP = %d bytes, %v after %d requests; want a second fetch", len(b), err, requests.Load())
	}
}

// TestLoadHTTPRefuses: a module that is not Proxy-Wasm is refused by
// inspection (and not remembered); a mismatching sha256 by the fetcher; a
// loader without an HTTP fetcher refuses.
func TestLoadHTTPRefuses(t *testing.T) {
	srv, requests := countingServer(t, wasmtest.NotProxyWasm)
	l := NewLoader(nil, 8).WithHTTP(httpsource.New(httpsource.Options{}))
	req := httpsource.Request{URL: srv.URL + "/bad.wasm", SHA256: hexSHA(wasmtest.NotProxyWasm)}
	for range 2 {
		if _, _, err := l.LoadHTTP(context.Background(), req); !errors.Is(err, wasm.ErrNotProxyWasm) {
			t.Fatalf("err = %v, want ErrNotProxyWasm", err)
		}
	}
	if requests.Load() != 2 {
		t.Fatalf("requests = %d, want 2 (failures are not remembered)", requests.Load())
	}
	req.SHA256 = hexSHA(wasmtest.ProxyWasm)
	if _, _, err := l.LoadHTTP(context.Background(), req); !errors.Is(err, oci.ErrDigestMismatch) {
		t.Fatalf("err = %v, want ErrDigestMismatch", err)
	}
	if _, _, err := NewLoader(nil, 8).LoadHTTP(context.Background(), req); !errors.Is(err, ErrNoHTTP) {
		t.Fatalf("err = %v, want ErrNoHTTP", err)
	}
}
