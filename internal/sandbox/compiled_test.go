package sandbox

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/wasmext/wasmext/internal/wasm"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// users returns how many runs use or await the module sha, and whether it
// is compiled (or failed).
func (s *Sandbox) users(sha string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.modules[sha]
	if !ok {
		return 0, false
	}
	select {
	case <-c.ready:
		return c.users, true
	default:
		return c.users, false
	}
}

// waitUsers yields until n runs use or await sha and, with compiled, it is
// compiled.
func waitUsers(s *Sandbox, sha string, n int, compiled bool) {
	for {
		if u, done := s.users(sha); u == n && (done || !compiled) {
			return
		}
		runtime.Gosched()
	}
}

// budgetIdle fails unless nothing holds b and no module is kept.
func budgetIdle(t *testing.T, s *Sandbox, b *wasm.Budget) {
	t.Helper()
	if now, _ := b.InUse(); now != 0 {
		t.Errorf("%d bytes of the budget still held", now)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.modules) != 0 {
		t.Errorf("%d compiled modules kept after their runs", len(s.modules))
	}
}

func TestCompiledModuleClosedAfterItsLastRun(t *testing.T) {
	b := wasm.NewBudget(1 << 20)
	s := newSandbox(t, Config{Budget: b})
	in := Input{Wasm: fixture(t, "good")}
	if _, err := s.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	budgetIdle(t, s, b)
	// A new configuration later compiles the module again.
	in.PluginConfig = []byte("x")
	if rep, err := s.Run(context.Background(), in); err != nil || rep.Compile == 0 {
		t.Errorf("new config: %v, compile %s (want a new compilation)", err, rep.Compile)
	}
	if got := s.compiles.Load(); got != 2 {
		t.Errorf("%d compilations, want 2", got)
	}
	if _, peak := b.InUse(); peak != int64(len(in.Wasm)) {
		t.Errorf("budget peak %d, want the module's %d bytes", peak, len(in.Wasm))
	}
}

func TestQueuedConfigsShareOneCompilation(t *testing.T) {
	b := wasm.NewBudget(1 << 20)
	s := newSandbox(t, Config{Budget: b, MaxConcurrent: 1})
	good := fixture(t, "good")
	sha := wasmSHA256(Input{Wasm: good})
	s.sem <- struct{}{} // every run waits for the slot
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = s.Run(context.Background(), Input{Wasm: good, PluginConfig: fmt.Appendf(nil, "%d", i)})
		})
	}
	waitUsers(s, sha, len(errs), true)
	if now, _ := b.InUse(); now != int64(len(good)) {
		t.Errorf("budget in use while runs await the compiled module: %d, want %d", now, len(good))
	}
	<-s.sem
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := s.compiles.Load(); got != 1 {
		t.Errorf("%d compilations for one digest, want 1", got)
	}
	budgetIdle(t, s, b)
}

func TestCompilationsStayWithinTheBudget(t *testing.T) {
	mods := make([][]byte, 3) // one size, three digests
	for i := range mods {
		mods[i] = wasmtest.AppendCustomSection(fixture(t, "good"), "n", []byte{byte('0' + i)})
	}
	b := wasm.NewBudget(int64(len(mods[0]))) // one at a time
	s := newSandbox(t, Config{Budget: b, MaxConcurrent: len(mods)})
	var wg sync.WaitGroup
	errs := make([]error, len(mods))
	for i := range mods {
		wg.Go(func() { _, errs[i] = s.Run(context.Background(), Input{Wasm: mods[i]}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if _, peak := b.InUse(); peak != int64(len(mods[0])) {
		t.Errorf("budget peak %d, want one module's %d bytes", peak, len(mods[0]))
	}
	if got := s.compiles.Load(); got != int64(len(mods)) {
		t.Errorf("%d compilations, want %d", got, len(mods))
	}
	budgetIdle(t, s, b)
}

func TestRunCompilesAgainWhenTheCompilingCallerGaveUp(t *testing.T) {
	good := fixture(t, "good")
	sha := wasmSHA256(Input{Wasm: good})
	b := wasm.NewBudget(int64(len(good)))
	s := newSandbox(t, Config{Budget: b})
	hold, err := b.Acquire(context.Background(), len(good))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error)
	go func() { _, err := s.Run(ctx, Input{Wasm: good}); first <- err }()
	waitUsers(s, sha, 1, false)
	second := make(chan error)
	go func() { _, err := s.Run(context.Background(), Input{Wasm: good, PluginName: "other"}); second <- err }()
	waitUsers(s, sha, 2, false)
	cancel()
	err = <-first
	wantSentinel(t, err, ErrTimeout)
	wantContains(t, err.Error(), "the caller gave up")
	hold()
	if err := <-second; err != nil {
		t.Errorf("the run that waited for the abandoned compilation: %v", err)
	}
	if got := s.compiles.Load(); got != 1 {
		t.Errorf("%d compilations, want 1 (the abandoned one never started)", got)
	}
	budgetIdle(t, s, b)
}
