package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmext/wasmext/internal/wasm"
)

// source returns an Input.Source serving b and counting its calls.
func source(b []byte, calls *atomic.Int32) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) {
		calls.Add(1)
		return b, nil
	}
}

func TestSourceIsReadOnlyToCompile(t *testing.T) {
	good := fixture(t, "good")
	sha := wasmSHA256(Input{Wasm: good})
	s := newSandbox(t, Config{Budget: wasm.NewBudget(1 << 20), MaxConcurrent: 1})
	var calls atomic.Int32
	s.sem <- struct{}{} // every run waits for the slot
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			in := Input{SHA256: sha, Size: int64(len(good)), Source: source(good, &calls), PluginConfig: fmt.Appendf(nil, "%d", i)}
			_, errs[i] = s.Run(context.Background(), in)
		})
	}
	waitUsers(s, sha, len(errs), true)
	<-s.sem
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("Source called %d times for one compilation, want 1", got)
	}
}

func TestSourceWaitsForTheBudget(t *testing.T) {
	good := fixture(t, "good")
	b := wasm.NewBudget(int64(len(good)))
	s := newSandbox(t, Config{Budget: b})
	hold, err := b.Acquire(context.Background(), len(good))
	if err != nil {
		t.Fatal(err)
	}
	defer hold()
	var calls atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = s.Run(ctx, Input{SHA256: wasmSHA256(Input{Wasm: good}), Size: int64(len(good)), Source: source(good, &calls)})
	wantSentinel(t, err, ErrTimeout)
	if got := calls.Load(); got != 0 {
		t.Errorf("Source called %d times while the budget was taken, want 0", got)
	}
}

func TestSourceErrorIsNotRemembered(t *testing.T) {
	good := fixture(t, "good")
	s := newSandbox(t, Config{})
	in := Input{SHA256: wasmSHA256(Input{Wasm: good}), Source: func(context.Context) ([]byte, error) {
		return nil, errors.New("registry down")
	}}
	_, err := s.Run(context.Background(), in)
	var srcErr *SourceError
	if !errors.As(err, &srcErr) || srcErr.Err.Error() != "registry down" {
		t.Fatalf("err %v, want a *SourceError with the source's error", err)
	}
	var calls atomic.Int32
	in.Source = source(good, &calls)
	if rep, err := s.Run(context.Background(), in); err != nil || rep.Cached {
		t.Errorf("after the source recovered: %v, cached %v (want a new run that passes)", err, rep.Cached)
	}
}

// TestSourceMayInspectWithinTheBudget: a Source that re-pulls, and so
// inspects, the bytes takes the budget again; it must not wait for the
// share its own compilation holds.
func TestSourceMayInspectWithinTheBudget(t *testing.T) {
	good := fixture(t, "good")
	b := wasm.NewBudget(int64(len(good)))
	s := newSandbox(t, Config{Budget: b})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in := Input{SHA256: wasmSHA256(Input{Wasm: good}), Size: int64(len(good)), Source: func(ctx context.Context) ([]byte, error) {
		release, err := b.Acquire(ctx, len(good)) // as wasm.Inspect does
		if err != nil {
			return nil, err
		}
		release()
		return good, nil
	}}
	if _, err := s.Run(ctx, in); err != nil {
		t.Fatalf("%v (the Source waited for its own compilation's share)", err)
	}
}
