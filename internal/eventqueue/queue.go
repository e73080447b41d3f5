// Package eventqueue sends an operator's Normal Events apart from the
// writes its reconcilers make on the path to Ready, so that a rollout of
// thousands of extensions is not slowed by one Event write each, and no
// Event is dropped on the way.
//
// client-go's events broadcaster, which controller-runtime's recorder uses,
// drops an Event when its queue of 1,000 is full; it shares the apiserver
// with the reconcilers' apply and status writes, which a user waits for
// while an Event only reports. So Normal Events wait here instead: at most
// one pending entry per object (a second Event for an object still waiting
// is merged into the first, notes joined, newest last), sent at their own
// rate (Options.QPS, Burst) to the recorder. Warnings are not queued: they
// are few (a reconciler emits one per new failure) and a person may be
// waiting for them.
//
// While the operator is busy (Options.Busy, e.g. reconciles in flight
// during a rollout), Normal Events wait, up to Options.MaxHold for the
// oldest, so the apiserver serves the writes people wait for first (make
// bench-flux: an Event per extension was the only write the floor does
// not make).
//
// Memory is bounded by the number of objects with a pending Event, each a
// small reference and a note of at most MaxNote bytes.
package eventqueue

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/reference"
	"k8s.io/client-go/util/flowcontrol"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

// MaxNote is the longest note kept for one object; events.k8s.io/v1
// refuses notes over 1 kB.
const MaxNote = 1000

// Options are the rate at which queued Events are sent.
type Options struct {
	QPS   float32
	Burst int
	// Busy, when set, says the operator has writes of its own to make:
	// Events then wait, the oldest at most MaxHold (default 30s).
	Busy    func() bool
	MaxHold time.Duration
}

// holdPoll is how often a held queue asks Busy again.
const holdPoll = 200 * time.Millisecond

// Queue is a recorder.EventRecorder that queues Normal Events. Start must
// run (it is a manager.Runnable) for them to be sent.
type Queue struct {
	next    recorder.EventRecorder
	scheme  *runtime.Scheme
	limiter flowcontrol.RateLimiter
	busy    func() bool
	maxHold time.Duration
	held    chan struct{} // signaled each time the queue decided to hold (tests)

	mu      sync.Mutex
	pending map[types.UID]*entry
	order   []types.UID // FIFO of pending keys
	wake    chan struct{}
	merged  int64
}

type entry struct {
	ref                  *corev1.ObjectReference
	reason, action, note string
	queued               time.Time
}

// New returns a Queue sending to next at the rate of o.
func New(next recorder.EventRecorder, scheme *runtime.Scheme, o Options) *Queue {
	return &Queue{
		next:    next,
		scheme:  scheme,
		limiter: flowcontrol.NewTokenBucketRateLimiter(o.QPS, o.Burst),
		busy:    o.Busy,
		maxHold: cmp.Or(o.MaxHold, 30*time.Second),
		pending: map[types.UID]*entry{},
		wake:    make(chan struct{}, 1),
	}
}

// Eventf sends a Warning (or an Event about a related object) at once, and
// queues a Normal Event.
func (q *Queue) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	ref, err := reference.GetReference(q.scheme, regarding)
	if eventtype != corev1.EventTypeNormal || related != nil || err != nil || ref.UID == "" {
		q.next.Eventf(regarding, related, eventtype, reason, action, note, args...)
		return
	}
	q.add(ref, reason, action, fmt.Sprintf(note, args...))
}

// AnnotatedEventf is not queued.
func (q *Queue) AnnotatedEventf(regarding, related runtime.Object, annotations map[string]string, eventtype, reason, action, note string, args ...any) {
	q.next.AnnotatedEventf(regarding, related, annotations, eventtype, reason, action, note, args...)
}

func (q *Queue) add(ref *corev1.ObjectReference, reason, action, note string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if e, ok := q.pending[ref.UID]; ok {
		q.merged++
		e.ref, e.reason, e.action, e.note = ref, reason, action, Join(e.note, note)
		return
	}
	q.pending[ref.UID] = &entry{ref: ref, reason: reason, action: action, note: Join("", note), queued: time.Now()}
	q.order = append(q.order, ref.UID)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Join appends note to earlier, keeping at most MaxNote bytes: the oldest
// part is cut first, marked with "…".
func Join(earlier, note string) string {
	s := note
	if earlier != "" {
		s = earlier + "; then " + note
	}
	if len(s) <= MaxNote {
		return s
	}
	const mark = "…"
	return mark + s[len(s)-MaxNote+len(mark):]
}

// Len returns the number of objects with an Event waiting.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

// Merged returns how many Events were merged into one already waiting.
func (q *Queue) Merged() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.merged
}

func (q *Queue) pop() (*entry, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return nil, false
	}
	uid := q.order[0]
	q.order[0] = ""
	q.order = q.order[1:]
	e := q.pending[uid]
	delete(q.pending, uid)
	return e, true
}

// Start sends queued Events until ctx is done, then sends what is still
// waiting without waiting for the rate, so a clean stop loses nothing the
// recorder can still take.
func (q *Queue) Start(ctx context.Context) error {
	for {
		if q.hold() {
			select {
			case <-ctx.Done():
				q.flush()
				return nil
			case <-time.After(holdPoll):
				continue
			}
		}
		e, ok := q.pop()
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-q.wake:
				continue
			}
		}
		if err := q.limiter.Wait(ctx); err != nil {
			q.send(e)
			q.flush()
			return nil
		}
		q.send(e)
	}
}

// hold says whether the oldest waiting Event should wait longer for the
// operator to be idle.
func (q *Queue) hold() bool {
	if q.busy == nil || !q.busy() {
		return false
	}
	q.mu.Lock()
	wait := len(q.order) > 0 && time.Since(q.pending[q.order[0]].queued) < q.maxHold
	q.mu.Unlock()
	if wait && q.held != nil {
		select {
		case q.held <- struct{}{}:
		default:
		}
	}
	return wait
}

func (q *Queue) flush() {
	for e, ok := q.pop(); ok; e, ok = q.pop() {
		q.send(e)
	}
}

func (q *Queue) send(e *entry) {
	q.next.Eventf(e.ref, nil, corev1.EventTypeNormal, e.reason, e.action, "%s", e.note)
}
