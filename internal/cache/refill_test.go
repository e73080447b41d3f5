package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmext/wasmext/internal/cache"
)

// TestServeMissRefillsOnce sends 20 concurrent requests for a module the
// store does not hold: Refill runs once, every request gets the bytes, and
// the store keeps them.
func TestServeMissRefillsOnce(t *testing.T) {
	store := cache.NewStore(1 << 20)
	k, b := mod("refill me", 64<<10)
	var calls, arrived atomic.Int32
	release := make(chan struct{})
	refill := func(ctx context.Context, key string) ([]byte, error) {
		calls.Add(1)
		if key != k {
			return nil, cache.ErrUnknown
		}
		<-release
		return b, nil
	}
	srv := &cache.Server{Store: store, Token: token, Refill: refill}
	ts := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		srv.ServeHTTP(w, r)
	}))
	hits := metric(t, "wasmext_cache_requests_total", "hit")
	misses := metric(t, "wasmext_cache_requests_total", "miss")

	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, body := do(t, ts, "GET", "/modules/"+token+"/"+k+".wasm")
			if resp.StatusCode != 200 || !bytes.Equal(body, b) {
				t.Errorf("GET = %d with %d bytes; want 200 with the module", resp.StatusCode, len(body))
			}
		})
	}
	// Hold the Refill until every request is in the handler, so that they
	// pile up on it. Calls stays 1 even if one is slow to join: after the
	// Refill the module is in the store.
	deadline := time.Now().Add(10 * time.Second)
	for arrived.Load() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()

	if c := calls.Load(); c != 1 {
		t.Fatalf("Refill called %d times, want 1", c)
	}
	if got, ok := store.Get(k); !ok || !bytes.Equal(got, b) {
		t.Fatal("refilled module not stored")
	}
	gotMisses := metric(t, "wasmext_cache_requests_total", "miss") - misses
	gotHits := metric(t, "wasmext_cache_requests_total", "hit") - hits
	if gotMisses < 1 || gotMisses+gotHits != n {
		t.Errorf("misses, hits grew by %v, %v; want %d in all, misses at least 1", gotMisses, gotHits, n)
	}
	if resp, _ := do(t, ts, "HEAD", "/modules/"+token+"/"+k+".wasm"); resp.StatusCode != 200 || calls.Load() != 1 {
		t.Fatalf("HEAD after refill = %d, %d Refill calls; want 200 from the store", resp.StatusCode, calls.Load())
	}
}

func TestServeRefillFailures(t *testing.T) {
	k, b := mod("wanted", 1000)
	_, other := mod("other", 1000)
	for _, tc := range []struct {
		name       string
		refill     cache.Refill
		code       int
		retryAfter bool
		result     string
	}{
		{"wrong bytes", func(context.Context, string) ([]byte, error) { return other, nil }, 502, false, "refill_error"},
		{"truncated bytes", func(context.Context, string) ([]byte, error) { return b[:999], nil }, 502, false, "refill_error"},
		{"no bytes", func(context.Context, string) ([]byte, error) { return nil, nil }, 502, false, "refill_error"},
		{"unknown", func(context.Context, string) ([]byte, error) { return nil, cache.ErrUnknown }, 404, false, "not_found"},
		{"unknown, wrapped", func(context.Context, string) ([]byte, error) {
			return nil, fmt.Errorf("no extension: %w", cache.ErrUnknown)
		}, 404, false, "not_found"},
		{"nil Refill", nil, 404, false, "not_found"},
		{"registry down", func(context.Context, string) ([]byte, error) {
			return nil, errors.New("registry: 503 Service Unavailable")
		}, 503, true, "refill_error"},
		{"panic", func(context.Context, string) ([]byte, error) { panic("bug") }, 503, true, "refill_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := cache.NewStore(1 << 20)
			ts := newServer(t, &cache.Server{Store: store, Token: token, Refill: tc.refill})
			before := metric(t, "wasmext_cache_requests_total", tc.result)
			resp, body := do(t, ts, "GET", "/modules/"+token+"/"+k+".wasm")
			if resp.StatusCode != tc.code {
				t.Fatalf("GET = %d, want %d", resp.StatusCode, tc.code)
			}
			if got := resp.Header.Get("Retry-After"); (got != "") != tc.retryAfter {
				t.Errorf("Retry-After = %q, want one: %v", got, tc.retryAfter)
			}
			if bytes.Contains(body, other) || resp.Header.Get("Content-Type") == "application/wasm" {
				t.Error("served the refilled bytes")
			}
			if store.Len() != 0 {
				t.Errorf("store holds %d modules after a failed refill, want 0", store.Len())
			}
			if got := metric(t, "wasmext_cache_requests_total", tc.result) - before; got != 1 {
				t.Errorf("%s grew by %v, want 1", tc.result, got)
			}
		})
	}
}

// TestServeRefillLargerThanStore serves a verified module the store cannot
// hold instead of failing the proxy.
func TestServeRefillLargerThanStore(t *testing.T) {
	store := cache.NewStore(100)
	k, b := mod("big", 101)
	refill := func(context.Context, string) ([]byte, error) { return b, nil }
	ts := newServer(t, &cache.Server{Store: store, Token: token, Refill: refill})
	resp, body := do(t, ts, "GET", "/modules/"+token+"/"+k+".wasm")
	if resp.StatusCode != 200 || !bytes.Equal(body, b) {
		t.Fatalf("GET = %d with %d bytes; want 200 with the module", resp.StatusCode, len(body))
	}
	if store.Len() != 0 {
		t.Fatal("store kept a module larger than itself")
	}
}

// TestServeRefillOutlivesClient: the first requester hanging up must not
// cancel the Refill the others wait on.
func TestServeRefillOutlivesClient(t *testing.T) {
	store := cache.NewStore(1 << 20)
	k, b := mod("slow", 1000)
	entered := make(chan struct{})
	release := make(chan struct{})
	refill := func(ctx context.Context, _ string) ([]byte, error) {
		close(entered)
		select {
		case <-release:
			return b, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	ts := newServer(t, &cache.Server{Store: store, Token: token, Refill: refill})

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/modules/"+token+"/"+k+".wasm", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-entered
	cancel()
	if err := <-done; err == nil {
		t.Fatal("canceled request succeeded")
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for store.Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got, ok := store.Get(k); !ok || !bytes.Equal(got, b) {
		t.Fatal("Refill was canceled with the request that started it")
	}
}
