package controllers

import (
	"sync/atomic"
	"time"
)

// busyFor is how long after its last reconcile the reconciler still counts
// as busy: the gap between two extensions of a rollout is shorter.
const busyFor = time.Second

// activity counts the reconciles in flight and when the last one ended.
type activity struct {
	inFlight atomic.Int32
	lastDone atomic.Int64 // UnixNano
}

func (a *activity) start() { a.inFlight.Add(1) }

func (a *activity) done() {
	a.lastDone.Store(time.Now().UnixNano())
	a.inFlight.Add(-1)
}

// Busy says whether a reconcile is in flight or ended less than busyFor
// ago: the event queue holds Normal Events meanwhile, so a rollout's
// applies and status writes come first.
func (r *WasmExtensionReconciler) Busy() bool {
	return r.activity.inFlight.Load() > 0 || time.Since(time.Unix(0, r.activity.lastDone.Load())) < busyFor
}
