package controllers

import (
	"hash/fnv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// memory is what the reconciler remembers of each extension between
// reconciles, in this process only: the last tag resolution (so the
// registry is asked once per interval, not once per watch event) and the
// last passed verification (so a signature is checked again only when the
// digest, the spec or the trust material changed). A restart forgets it,
// so the first reconcile after a start resolves and verifies again. The
// verification results themselves are shared by every extension
// (verifyResults, keyed by digest and trust material): this memory only
// says whether an extension must ask for one.
//
// A map under a lock, not a sync.Map: a sync.Map boxes every value and
// keeps a node per key, which at 10,000 extensions made the resolutions
// and written statuses 5.5 MB of the live heap (make bench -pprof).
type memory[T any] struct {
	mu sync.RWMutex
	m  map[client.ObjectKey]T
}

func (m *memory[T]) get(k client.ObjectKey) *T {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if v, ok := m.m[k]; ok {
		return &v
	}
	return nil
}

func (m *memory[T]) put(k client.ObjectKey, v T) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[client.ObjectKey]T{}
	}
	m.m[k] = v
}

func (m *memory[T]) forget(k client.ObjectKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, k)
}

// DefaultInterval is how often a tag is resolved again when the extension
// does not say.
const DefaultInterval = 10 * time.Minute

// maxJitter is the largest fraction of the interval added to a requeue, so
// extensions created together do not all ask the registry at once.
const maxJitter = 0.1

func interval(ext *v1alpha1.WasmExtension) time.Duration {
	if i := ext.Spec.Module.Interval; i != nil && i.Duration > 0 {
		return i.Duration
	}
	return DefaultInterval
}

// jittered adds up to maxJitter of d, derived from the object's UID: the
// same object always gets the same delay, different objects are spread.
func jittered(d time.Duration, uid types.UID) time.Duration {
	h := fnv.New32a()
	_, _ = h.Write([]byte(uid))
	return d + time.Duration(float64(d)*maxJitter*float64(h.Sum32()%1000)/1000)
}

// result is what Reconcile returns: transient failures go back to the
// work queue (rate-limited backoff); a tag is looked at again every
// interval, also while stalled, so a fixed push to the same tag is noticed.
func (s *scope) result() (ctrl.Result, error) {
	switch {
	case s.suspended:
		return ctrl.Result{}, nil
	case s.failure != nil && !s.failure.stalled:
		return ctrl.Result{}, s.failure.err
	case s.tagged || s.failure != nil:
		return ctrl.Result{RequeueAfter: jittered(interval(s.ext), s.ext.UID)}, nil
	}
	return ctrl.Result{}, nil
}

// MaxBackoff caps the retry backoff of transient failures (an outage among
// them): per extension, controller-runtime's default doubles from 5ms; the
// cap lowers its 1000s to under DefaultInterval, so a registry away for
// hours is still asked every few minutes per extension and recovery needs
// nobody.
const MaxBackoff = 5 * time.Minute

// cappedLimiter is a rate limiter whose delays never exceed max.
type cappedLimiter struct {
	workqueue.TypedRateLimiter[reconcile.Request]
	max time.Duration
}

func (l cappedLimiter) When(item reconcile.Request) time.Duration {
	return min(l.TypedRateLimiter.When(item), l.max)
}

// rateLimiter is controller-runtime's default (per-item exponential and an
// overall bucket) with delays capped at MaxBackoff.
func rateLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return cappedLimiter{TypedRateLimiter: workqueue.DefaultTypedControllerRateLimiter[reconcile.Request](), max: MaxBackoff}
}
