package cache_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wasmext/wasmext/internal/cache"
)

// discard is a ResponseWriter that keeps headers and drops the body, so
// that the handler sub-benchmark measures the Server alone.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkServeHit serves a 1 MiB module from the store: "handler" calls
// ServeHTTP directly, "http" adds a loopback HTTP/1.1 round trip.
func BenchmarkServeHit(b *testing.B) {
	store := cache.NewStore(8 << 20)
	k, m := mod("\x00asm\x01\x00\x00\x00", 1<<20)
	mustPut(b, store, k, m)
	srv := &cache.Server{Store: store, Token: token}
	path := "/modules/" + token + "/" + k + ".wasm"

	b.Run("handler", func(b *testing.B) {
		req := httptest.NewRequest("GET", path, nil)
		w := &discard{h: make(http.Header)}
		b.SetBytes(int64(len(m)))
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			srv.ServeHTTP(w, req)
		}
	})

	b.Run("http", func(b *testing.B) {
		ts := httptest.NewServer(srv)
		defer ts.Close()
		client := ts.Client()
		url := srv.URL(ts.URL, k)
		b.SetBytes(int64(len(m)))
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n != int64(len(m)) {
				b.Fatalf("GET = %d with %d bytes", resp.StatusCode, n)
			}
		}
	})
}
