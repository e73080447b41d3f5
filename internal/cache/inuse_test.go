package cache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/wasmext/wasmext/internal/cache"
)

// rendered is an InUse whose answers the test sets.
type rendered struct {
	mu  sync.Mutex
	set map[string]bool
	err error
}

func (r *rendered) inUse(_ context.Context, sha string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set[sha], r.err
}

func (r *rendered) render(sha string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.set == nil {
		r.set = map[string]bool{}
	}
	r.set[sha] = on
}

// TestServeOnlyWhileRendered: a module the Store holds is a 404 while no
// extension renders it, and no Refill is tried for it.
func TestServeOnlyWhileRendered(t *testing.T) {
	store := cache.NewStore(1 << 20)
	k, b := mod("stored", 500)
	mustPut(t, store, k, b)
	kr, br := mod("refillable", 500)
	var refills atomic.Int32
	refill := func(context.Context, string) ([]byte, error) { refills.Add(1); return br, nil }
	r := &rendered{}
	ts := newServer(t, &cache.Server{Store: store, Key: key, InUse: r.inUse, Refill: refill, Grace: time.Minute})
	for _, sha := range []string{k, kr} {
		if resp, _ := do(t, ts, "GET", path(sha)); resp.StatusCode != 404 {
			t.Errorf("GET of a module nobody renders = %d, want 404", resp.StatusCode)
		}
	}
	if n := refills.Load(); n != 0 {
		t.Fatalf("Refill called %d times for modules nobody renders", n)
	}
	r.render(k, true)
	r.render(kr, true)
	assertServes(t, ts, path(k), k, b)
	assertServes(t, ts, path(kr), kr, br)
	if n := refills.Load(); n != 1 {
		t.Fatalf("Refill called %d times, want 1", n)
	}
}

// TestServeGrace: after the last extension stops rendering a module
// (Seen), it is served for Grace and then no more; Put counts as Seen.
func TestServeGrace(t *testing.T) {
	const grace = 2 * time.Minute
	clk := clocktesting.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	store := cache.NewStore(1 << 20)
	ka, a := mod("old module", 500)
	kb, b := mod("new module", 500)
	r := &rendered{}
	srv := &cache.Server{Store: store, Key: key, InUse: r.inUse, Grace: grace, Clock: clk}
	ts := newServer(t, srv)
	if err := srv.Put(ka, a); err != nil { // pulled to be rendered; not yet in the informer cache
		t.Fatal(err)
	}
	status := func(sha string) int { resp, _ := do(t, ts, "GET", path(sha)); return resp.StatusCode }
	if got := status(ka); got != 200 {
		t.Fatalf("GET right after Put = %d, want 200", got)
	}
	r.render(ka, true)
	clk.Step(time.Hour) // rendered: served whatever the time
	if got := status(ka); got != 200 {
		t.Fatalf("GET while rendered = %d, want 200", got)
	}

	// The extension moves to b: the controller sees a stop rendering.
	mustPut(t, store, kb, b)
	r.render(kb, true)
	r.render(ka, false)
	srv.Seen(ka)
	clk.Step(grace - time.Second)
	if got := status(ka); got != 200 {
		t.Fatalf("GET of the old module within grace = %d, want 200", got)
	}
	clk.Step(2 * time.Second)
	if ga, gb := status(ka), status(kb); ga != 404 || gb != 200 {
		t.Fatalf("GET after grace: old %d, new %d; want 404, 200", ga, gb)
	}
	srv.Seen(ka) // rendered again for a moment
	if got := status(ka); got != 200 {
		t.Fatalf("GET after Seen again = %d, want 200", got)
	}
}

// TestServeInUseError: an InUse that fails is a 503 (retry), except for a
// module within its grace period.
func TestServeInUseError(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	store := cache.NewStore(1 << 20)
	k, b := mod("m", 500)
	mustPut(t, store, k, b)
	r := &rendered{err: errors.New("informer cache not synced")}
	srv := &cache.Server{Store: store, Key: key, InUse: r.inUse, Grace: time.Minute, Clock: clk}
	ts := newServer(t, srv)
	resp, body := do(t, ts, "GET", path(k))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || string(body) != "Service Unavailable\n" {
		t.Fatalf("GET with InUse failing = %d %q, Retry-After %q; want 503 with only the status text", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	srv.Seen(k)
	if resp, _ := do(t, ts, "GET", path(k)); resp.StatusCode != 200 {
		t.Fatalf("GET within grace with InUse failing = %d, want 200", resp.StatusCode)
	}
}
