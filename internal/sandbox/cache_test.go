package sandbox

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestResultsAreRememberedPerKey(t *testing.T) {
	s := newSandbox(t, Config{CompiledCacheSize: 1})
	in := Input{Wasm: fixture(t, "configure_false")}
	_, err1 := s.Run(context.Background(), in)
	rep, err2 := s.Run(context.Background(), in)
	if !rep.Cached || err2 == nil || err1.Error() != err2.Error() || len(rep.Logs) != 2 {
		t.Errorf("second run: cached %v, err %v", rep.Cached, err2)
	}
	// Another configuration is another dry run, on the cached compiled module.
	rep, _ = s.Run(context.Background(), Input{Wasm: in.Wasm, PluginConfig: []byte("x")})
	if rep.Cached || rep.Compile != 0 {
		t.Errorf("new config: cached %v, compile %s", rep.Cached, rep.Compile)
	}
	if got := s.started.Load(); got != 2 {
		t.Errorf("%d dry runs, want 2", got)
	}
}

func TestKeyCoversEveryField(t *testing.T) {
	base := Input{Wasm: []byte("w"), PluginName: "p", PluginConfig: []byte("c"), VMConfig: []byte("v"),
		Env: map[string]string{"A": "1"}, Type: "HTTP"}
	variants := []func(*Input){
		func(in *Input) { in.Wasm = []byte("w2") },
		func(in *Input) { in.PluginName = "q" },
		func(in *Input) { in.PluginConfig = []byte("d") },
		func(in *Input) { in.VMConfig = []byte("u") },
		func(in *Input) { in.Env = map[string]string{"A": "2"} },
		func(in *Input) { in.Env = map[string]string{"A": "1", "B": ""} },
		func(in *Input) { in.Type = "NETWORK" },
		func(in *Input) { in.PluginName, in.PluginConfig = "pc", nil }, // bytes shifted between fields
	}
	seen := map[string]bool{Key(base): true}
	for i, vary := range variants {
		in := base
		vary(&in)
		k := Key(in)
		if seen[k] {
			t.Errorf("variant %d collides", i)
		}
		seen[k] = true
	}
	same := base
	same.Type, same.SHA256 = "", wasmSHA256(base)
	if Key(same) != Key(base) {
		t.Error(`Type "" and an explicit sha256 must not change the key`)
	}
}

func TestConcurrentRunsShareOneRun(t *testing.T) {
	s := newSandbox(t, Config{MaxConcurrent: 4})
	in := Input{Wasm: fixture(t, "good")}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	var ran atomic.Int32
	for i := range errs {
		wg.Go(func() {
			var rep Report
			rep, errs[i] = s.Run(context.Background(), in)
			if !rep.Cached {
				ran.Add(1)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := s.started.Load(); got != 1 {
		t.Errorf("%d dry runs, want 1", got)
	}
	if got := ran.Load(); got != 1 {
		t.Errorf("%d reports say they ran (Cached false), want 1", got)
	}
}

func TestEvictedCompiledModulesAreRecompiled(t *testing.T) {
	s := newSandbox(t, Config{CompiledCacheSize: 1})
	good, network := fixture(t, "good"), fixture(t, "network")
	for i, in := range []Input{{Wasm: good}, {Wasm: network}, {Wasm: good, PluginName: "again"}} {
		rep, err := s.Run(context.Background(), in)
		if err != nil || rep.Compile == 0 {
			t.Errorf("run %d: %v, compile %s", i, err, rep.Compile)
		}
	}
}

func TestCallerGivingUpIsNotRemembered(t *testing.T) {
	s := newSandbox(t, Config{Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	in := Input{Wasm: fixture(t, "loop_configure")}
	done := make(chan error)
	go func() { _, err := s.Run(ctx, in); done <- err }()
	for s.started.Load() == 0 {
		runtime.Gosched()
	}
	cancel()
	err := <-done
	wantSentinel(t, err, ErrTimeout)
	wantContains(t, err.Error(), "the caller gave up")
	if _, found := s.results.Get(Key(in)); found {
		t.Error("a canceled run was remembered")
	}
}

func TestMaxConcurrentQueuesRuns(t *testing.T) {
	s := newSandbox(t, Config{Timeout: 500 * time.Millisecond, MaxConcurrent: 1})
	done := make(chan error)
	go func() {
		_, err := s.Run(context.Background(), Input{Wasm: fixture(t, "loop_initialize")})
		done <- err
	}()
	for s.started.Load() == 0 {
		runtime.Gosched()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := s.Run(ctx, Input{Wasm: fixture(t, "good")})
	wantSentinel(t, err, ErrTimeout)
	wantContains(t, err.Error(), "waiting for a free slot")
	wantSentinel(t, <-done, ErrTimeout)
	if _, err := s.Run(context.Background(), Input{Wasm: fixture(t, "good")}); err != nil {
		t.Errorf("after the slot freed: %v", err)
	}
}

func TestTimeoutIsNotRemembered(t *testing.T) {
	s := newSandbox(t, Config{Timeout: 200 * time.Millisecond})
	in := Input{Wasm: fixture(t, "loop_configure")}
	for range 2 {
		rep, err := s.Run(context.Background(), in)
		wantSentinel(t, err, ErrTimeout)
		if rep.Cached {
			t.Fatal("a Timeout was answered from memory; it must be run again (the node may have been busy)")
		}
	}
	if got := s.started.Load(); got != 2 {
		t.Errorf("%d runs, want 2", got)
	}
}
