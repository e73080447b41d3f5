package main

import (
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/wasmext/wasmext/internal/testenv"
)

// Control planes for the runs of -peer. Every run gets a fresh
// kube-apiserver + etcd, and booting one takes about 5 s, plus up to 2 s
// before the first create of a CRD just Established is answered
// (apiextensions-apiserver makes such creates sleep). Over the 48 runs of
// make bench-flux that was 5 minutes of waiting. So the next run's control
// plane is started as soon as the current run's last object is Ready, while
// the current run only counts and idles (its settling, steady window and
// teardown). Nothing timed overlaps a boot.

// envPlan is the control planes the runs ahead need, in order, and at most
// one started ahead of its run.
type envPlan struct {
	mu    sync.Mutex
	plan  []testenv.Options // the runs not yet started, first next
	spare *spareEnv
}

// spareEnv is a control plane being started, or started, for plan[0].
type spareEnv struct {
	opts  testenv.Options
	start time.Time
	done  chan struct{}
	env   *testenv.Env
	err   error
}

// startedEnv is a control plane for a run and how long the run waited.
type startedEnv struct {
	env    *testenv.Env
	waited time.Duration
	ahead  bool // started ahead of the run
}

// start returns a control plane for opts: the one started ahead if it was
// for opts, else a new one. p may be nil (no plan: every run starts its own).
func (p *envPlan) start(opts testenv.Options) (startedEnv, error) {
	t := time.Now()
	if s := p.take(opts); s != nil {
		<-s.done
		return startedEnv{env: s.env, waited: time.Since(t), ahead: true}, s.err
	}
	env, err := testenv.Start(opts)
	return startedEnv{env: env, waited: time.Since(t)}, err
}

// take pops the plan's head for a run needing opts and returns the spare if
// it was started for it. A spare for other options is stopped.
func (p *envPlan) take(opts testenv.Options) *spareEnv {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.plan) > 0 {
		p.plan = p.plan[1:]
	}
	s := p.spare
	p.spare = nil
	if s == nil || reflect.DeepEqual(s.opts, opts) {
		return s
	}
	go func() { _ = stopSpare(s) }() // a spare nobody needs: its error is of no use
	return nil
}

// ahead starts the control plane of the next run in the plan, once.
func (p *envPlan) ahead() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.spare != nil || len(p.plan) == 0 {
		return
	}
	s := &spareEnv{opts: p.plan[0], start: time.Now(), done: make(chan struct{})}
	p.spare = s
	go func() {
		defer close(s.done)
		s.env, s.err = testenv.Start(s.opts)
	}()
}

// close stops a spare nobody took.
func (p *envPlan) close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	s := p.spare
	p.spare, p.plan = nil, nil
	p.mu.Unlock()
	if s == nil {
		return nil
	}
	return stopSpare(s)
}

func stopSpare(s *spareEnv) error {
	<-s.done
	if s.err != nil || s.env == nil {
		return nil
	}
	if err := s.env.Stop(); err != nil {
		return fmt.Errorf("stopping a spare control plane: %w", err)
	}
	return nil
}

// envOptions is the control plane system s runs on.
func (b *bench) envOptions(s system) testenv.Options {
	if s == sysFluxDefault || s == sysFluxTuned {
		return testenv.Options{NoIstioCRDs: true, ExtraCRDPaths: []string{b.o.peer.crds}}
	}
	return testenv.Options{}
}

// String says how the run got its control plane, for the progress line.
func (s startedEnv) String() string {
	if s.ahead {
		return fmt.Sprintf("started ahead, waited %s", dur(s.waited))
	}
	return dur(s.waited)
}
