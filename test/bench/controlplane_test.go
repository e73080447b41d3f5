package main

import (
	"reflect"
	"testing"

	"github.com/wasmext/wasmext/internal/testenv"
)

// TestEnvPlan: a run takes the control plane started ahead only when it
// was started for that run's options, and each run moves the plan on.
func TestEnvPlan(t *testing.T) {
	istio, flux := testenv.Options{}, testenv.Options{NoIstioCRDs: true, ExtraCRDPaths: []string{"crds"}}
	ready := func(o testenv.Options) *spareEnv {
		s := &spareEnv{opts: o, done: make(chan struct{})}
		close(s.done) // env nil: stopping it is a no-op
		return s
	}
	p := &envPlan{plan: []testenv.Options{istio, flux, istio}}
	if s := p.take(istio); s != nil {
		t.Fatalf("first run: took a spare nobody started: %+v", s)
	}
	p.spare = ready(flux)
	if s := p.take(flux); s == nil || !s.opts.NoIstioCRDs {
		t.Fatalf("second run: spare for its options not taken: %+v", s)
	}
	if len(p.plan) != 1 || !reflect.DeepEqual(p.plan[0], istio) {
		t.Fatalf("plan after two runs = %+v, want the third run's", p.plan)
	}
	p.spare = ready(flux) // started for the wrong run
	if s := p.take(istio); s != nil {
		t.Fatalf("third run took a spare started for other options: %+v", s)
	}
	if p.spare != nil || len(p.plan) != 0 {
		t.Fatalf("after the last run: spare %+v, plan %+v, want neither", p.spare, p.plan)
	}
	p.ahead() // nothing left to start
	if p.spare != nil {
		t.Fatal("ahead started a control plane with no run left")
	}
	var none *envPlan // the plain bench: no plan
	if none.take(istio) != nil || none.close() != nil {
		t.Fatal("a nil plan must start nothing and stop nothing")
	}
}

// TestQueuedEventsCount: the Events wasmext queued in a window and has not
// written yet count as writes of that window; the queued Events of an
// earlier window it writes in this one do not.
func TestQueuedEventsCount(t *testing.T) {
	rollout := window{
		apiByMethod: map[string]float64{"PATCH": 200, "POST": 10},
		apiServer:   map[string]float64{"events POST": 10, "trafficextensions APPLY": 100, "wasmextensions/status PATCH": 100},
		queuedStart: 0, queuedEnd: 90,
	}
	if got := rollout.allWrites(); got != 300 {
		t.Errorf("rollout allWrites = %v, want 200 path + 10 sent + 90 queued = 300", got)
	}
	if got := rollout.allEvents(); got != 100 {
		t.Errorf("rollout allEvents = %v, want 100", got)
	}
	if got := rollout.pathWrites(); got != 200 {
		t.Errorf("rollout pathWrites = %v, want 200", got)
	}
	steady := window{
		apiByMethod: map[string]float64{"POST": 90, "GET": 3},
		apiServer:   map[string]float64{"events POST": 90},
		queuedStart: 90, queuedEnd: 0,
	}
	if got := steady.allWrites(); got != 0 {
		t.Errorf("steady allWrites = %v, want 0: its Event writes drained the rollout's queue", got)
	}
	f := figuresOf(&result{n: 100, phase: rollout, steady: steady, steadyDuration: 1})
	if f.writesPerObj != 3 || f.eventsPerObj != 1 || f.steadyAPI != 3 {
		t.Errorf("figures: writes/obj %v, Events/obj %v, steady API %v; want 3, 1, 3", f.writesPerObj, f.eventsPerObj, f.steadyAPI)
	}
}
