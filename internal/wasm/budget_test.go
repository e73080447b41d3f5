package wasm

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

func TestInspectWaitsForTheBudget(t *testing.T) {
	w := wasmtest.ProxyWasm
	b := NewBudget(int64(len(w)))
	release, err := b.Acquire(context.Background(), len(w))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := inspectWithin(ctx, b, w); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("inspecting while the budget is taken: %v, want it to wait until the deadline", err)
	}
	release()
	release() // a second call does nothing
	if _, err := inspectWithin(context.Background(), b, w); err != nil {
		t.Fatalf("after the release: %v", err)
	}
	if now, peak := b.InUse(); now != 0 || peak != int64(len(w)) {
		t.Errorf("in use %d, peak %d; want 0 and %d", now, peak, len(w))
	}
}

func TestInspectUsesTheDefaultBudget(t *testing.T) {
	release, err := DefaultBudget.Acquire(context.Background(), int(DefaultBudget.Max()))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Inspect(ctx, wasmtest.ProxyWasm); !errors.Is(err, context.Canceled) {
		t.Fatalf("Inspect with DefaultBudget taken: %v, want it to wait (and give up)", err)
	}
}

func TestConcurrentInspectionsStayWithinTheBudget(t *testing.T) {
	w := wasmtest.ProxyWasm
	b := NewBudget(int64(len(w)) + 1) // one module at a time
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = inspectWithin(context.Background(), b, w) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if now, peak := b.InUse(); now != 0 || peak != int64(len(w)) {
		t.Errorf("in use %d, peak %d; want 0 and %d (one module at a time)", now, peak, len(w))
	}
}

func TestBudgetAdmitsALargerModuleAlone(t *testing.T) {
	b := NewBudget(100)
	release, err := b.Acquire(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if now, _ := b.InUse(); now != 100 {
		t.Errorf("in use %d, want the whole budget (100)", now)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Acquire(ctx, 1); err == nil {
		t.Error("a second module was admitted next to one larger than the budget")
	}
	release()
	if now, _ := b.InUse(); now != 0 {
		t.Errorf("in use %d after the release", now)
	}
}

func TestInspectWithinAShareIsAdmitted(t *testing.T) {
	w := wasmtest.ProxyWasm
	b := NewBudget(int64(len(w)))
	release, err := b.Acquire(context.Background(), len(w))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(b.Within(context.Background()), 5*time.Second)
	defer cancel()
	if _, err := inspectWithin(ctx, b, w); err != nil {
		t.Fatalf("inspecting on behalf of the share's holder: %v, want it admitted at once", err)
	}
	if _, err := inspectWithin(ctx, NewBudget(1), w); err != nil {
		t.Fatalf("another budget: %v", err)
	}
}

func TestReleasingALargeShareCollectsGarbage(t *testing.T) {
	forced := func() uint32 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.NumForcedGC
	}
	b := NewBudget(100)
	b.CollectAbove = 50
	for _, c := range []struct {
		size int
		gcs  uint32
	}{{10, 0}, {60, 1}, {1000, 1}} {
		release, err := b.Acquire(context.Background(), c.size)
		if err != nil {
			t.Fatal(err)
		}
		before := forced()
		release()
		if got := forced() - before; got != c.gcs {
			t.Errorf("releasing %d bytes (CollectAbove 50) ran %d collections, want %d", c.size, got, c.gcs)
		}
	}
}
