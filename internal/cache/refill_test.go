package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
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
	var calls atomic.Int32
	release := make(chan struct{})
	refill := func(ctx context.Context, key string) ([]byte, error) {
		calls.Add(1)
		if key != k {
			return nil, cache.ErrUnknown
		}
		<-release
		return b, nil
	}
	srv := &cache.Server{Store: store, Key: key, Refill: refill}
	ts := newServer(t, srv)
	hits := metric(t, "wasmext_module_cache_hits_total", "")
	misses := metric(t, "wasmext_module_cache_misses_total", "")
	refillsOK := metric(t, "wasmext_module_cache_refills_total", "result=ok")

	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, body := do(t, ts, "GET", path(k))
			if resp.StatusCode != 200 || !bytes.Equal(body, b) {
				t.Errorf("GET = %d with %d bytes; want 200 with the module", resp.StatusCode, len(body))
			}
		})
	}
	// Hold the Refill until every request has missed the store and waits on
	// a refill: each request's goroutine is then parked in the Server's
	// refill. Were misses not shared, the requests would call Refill
	// themselves instead, and calls would reach n.
	waitUntil(t, "all requests waiting on the refill", func() bool {
		return waitingInRefill() == n || calls.Load() == n
	})
	close(release)
	wg.Wait()

	if c := calls.Load(); c != 1 {
		t.Fatalf("Refill called %d times, want 1", c)
	}
	if got, ok := store.Get(k); !ok || !bytes.Equal(got, b) {
		t.Fatal("refilled module not stored")
	}
	gotMisses := metric(t, "wasmext_module_cache_misses_total", "") - misses
	gotHits := metric(t, "wasmext_module_cache_hits_total", "") - hits
	gotRefills := metric(t, "wasmext_module_cache_refills_total", "result=ok") - refillsOK
	if gotMisses != n || gotHits != 0 || gotRefills != 1 {
		t.Errorf("misses, hits, refills grew by %v, %v, %v; want %d misses (all served by the one Refill), 0 hits, 1 refill", gotMisses, gotHits, gotRefills, n)
	}
	if resp, _ := do(t, ts, "HEAD", path(k)); resp.StatusCode != 200 || calls.Load() != 1 {
		t.Fatalf("HEAD after refill = %d, %d Refill calls; want 200 from the store", resp.StatusCode, calls.Load())
	}
}

// waitingInRefill counts the goroutines parked in a select whose innermost
// frame outside the runtime is (*cache.Server).refill: requests waiting on
// a refill in flight (the goroutine running Refill is in another frame).
func waitingInRefill() int {
	const fn = "github.com/wasmext/wasmext/internal/cache.(*Server).refill("
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, frames, _ := strings.Cut(g, "\n")
		if !strings.Contains(header, "[select") {
			continue
		}
		for _, line := range strings.Split(frames, "\n") {
			if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "runtime.") {
				continue // a file:line, or a runtime frame GOTRACEBACK=system shows
			}
			if strings.HasPrefix(line, fn) {
				count++
			}
			break
		}
	}
	return count
}

// waitUntil polls cond until it holds, failing t after 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
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
		result     string // of wasmext_module_cache_refills_total; "" for no Refill
	}{
		{"wrong bytes", func(context.Context, string) ([]byte, error) { return other, nil }, 502, false, "digest_mismatch"},
		{"truncated bytes", func(context.Context, string) ([]byte, error) { return b[:999], nil }, 502, false, "digest_mismatch"},
		{"no bytes", func(context.Context, string) ([]byte, error) { return nil, nil }, 502, false, "digest_mismatch"},
		{"unknown", func(context.Context, string) ([]byte, error) { return nil, cache.ErrUnknown }, 404, false, "unknown"},
		{"unknown, wrapped", func(context.Context, string) ([]byte, error) {
			return nil, fmt.Errorf("no extension: %w", cache.ErrUnknown)
		}, 404, false, "unknown"},
		{"nil Refill", nil, 404, false, ""},
		{"registry down", func(context.Context, string) ([]byte, error) {
			return nil, errors.New("registry: 503 Service Unavailable")
		}, 503, true, "error"},
		{"panic", func(context.Context, string) ([]byte, error) { panic("bug") }, 503, true, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := cache.NewStore(1 << 20)
			ts := newServer(t, &cache.Server{Store: store, Key: key, Refill: tc.refill})
			code := fmt.Sprintf("code=%d", tc.code)
			before, refills := metric(t, requestsTotal, code), refillCounts(t)
			resp, body := do(t, ts, "GET", path(k))
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
			if got := metric(t, requestsTotal, code) - before; got != 1 {
				t.Errorf("requests{%s} grew by %v, want 1", code, got)
			}
			for r, n := range refillCounts(t) {
				if want := map[bool]float64{true: 1}[r == tc.result]; n-refills[r] != want {
					t.Errorf("refills{result=%s} grew by %v, want %v", r, n-refills[r], want)
				}
			}
		})
	}
}

// refillCounts returns wasmext_module_cache_refills_total by result.
func refillCounts(t *testing.T) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	for _, r := range []string{"ok", "unknown", "digest_mismatch", "error"} {
		m[r] = metric(t, "wasmext_module_cache_refills_total", "result="+r)
	}
	return m
}

// TestServeRefillLargerThanStore serves a verified module the store cannot
// hold instead of failing the proxy.
func TestServeRefillLargerThanStore(t *testing.T) {
	store := cache.NewStore(100)
	k, b := mod("big", 101)
	refill := func(context.Context, string) ([]byte, error) { return b, nil }
	ts := newServer(t, &cache.Server{Store: store, Key: key, Refill: refill})
	resp, body := do(t, ts, "GET", path(k))
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
	var calls atomic.Int32
	entered := make(chan struct{})
	release := make(chan struct{})
	refillErr := make(chan error, 1) // the Refill's ctx when released
	refill := func(ctx context.Context, _ string) ([]byte, error) {
		if calls.Add(1) == 1 {
			close(entered)
		}
		<-release
		if err := ctx.Err(); err != nil {
			refillErr <- err
			return nil, err
		}
		refillErr <- nil
		return b, nil
	}
	srv := &cache.Server{Store: store, Key: key, Refill: refill}
	handled := make(chan struct{}, 2) // one per request the handler has finished
	ts := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r)
		handled <- struct{}{}
	}))

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+path(k), nil)
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
	// The handler returns before the Refill only once the server has seen
	// the client go and canceled the request's context.
	<-handled
	close(release)
	if err := <-refillErr; err != nil {
		t.Fatalf("Refill was canceled with the request that started it: %v", err)
	}
	// A second request joins the refill still in flight or finds its
	// result in the store; either way no second Refill runs.
	resp, body := do(t, ts, "GET", path(k))
	if resp.StatusCode != 200 || !bytes.Equal(body, b) {
		t.Fatalf("GET after the refill = %d with %d bytes; want 200 with the module", resp.StatusCode, len(body))
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("Refill called %d times, want 1", c)
	}
	if got, ok := store.Get(k); !ok || !bytes.Equal(got, b) {
		t.Fatal("refilled module not stored")
	}
}
