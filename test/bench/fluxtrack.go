package main

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// objReady is what one object's status says about Ready.
type objReady struct {
	ready   bool   // Ready True for the current generation
	stalled bool   // Stalled True
	reason  string // the Ready reason while not ready
}

// readyOf reads the Ready and Stalled conditions of a Flux-style object
// (status.conditions with observedGeneration).
func readyOf(u *unstructured.Unstructured) objReady {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	out := objReady{reason: "NoReadyCondition"}
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		status, _ := m["status"].(string)
		switch m["type"] {
		case "Ready":
			gen, _, _ := unstructured.NestedInt64(m, "observedGeneration")
			out.ready = status == string(metav1.ConditionTrue) && gen == u.GetGeneration()
			out.reason, _ = m["reason"].(string)
		case "Stalled":
			out.stalled = status == string(metav1.ConditionTrue)
		}
	}
	if out.ready {
		out.reason = ""
	}
	return out
}

// objTracker follows objects of one kind through a watch and records when
// each first became Ready (readyOf).
type objTracker struct {
	n      int
	list   func() *unstructured.UnstructuredList
	mu     sync.Mutex
	ready  map[string]time.Time
	last   map[string]objReady
	change chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func watchObjects(ctx context.Context, c client.WithWatch, gvk schema.GroupVersionKind, n int) (*objTracker, error) {
	ctx, cancel := context.WithCancel(ctx)
	t := &objTracker{n: n, ready: map[string]time.Time{}, last: map[string]objReady{}, change: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	t.list = func() *unstructured.UnstructuredList {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		return l
	}
	w, err := t.relist(ctx, c)
	if err != nil {
		cancel()
		return nil, err
	}
	go t.loop(ctx, c, w)
	return t, nil
}

// relist lists every object, observes them and watches from there.
func (t *objTracker) relist(ctx context.Context, c client.WithWatch) (watch.Interface, error) {
	l := t.list()
	if err := c.List(ctx, l); err != nil {
		return nil, err
	}
	for i := range l.Items {
		t.observe(&l.Items[i])
	}
	return c.Watch(ctx, t.list(), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: l.GetResourceVersion()}})
}

func (t *objTracker) loop(ctx context.Context, c client.WithWatch, w watch.Interface) {
	defer close(t.done)
	for {
		for ev := range w.ResultChan() {
			if u, ok := ev.Object.(*unstructured.Unstructured); ok && ev.Type != watch.Deleted {
				t.observe(u)
			}
		}
		w.Stop()
		// The watch ended (timeout, compaction): list again and resume.
		for {
			if ctx.Err() != nil {
				return
			}
			var err error
			if w, err = t.relist(ctx, c); err == nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func (t *objTracker) observe(u *unstructured.Unstructured) {
	key := u.GetNamespace() + "/" + u.GetName()
	st := readyOf(u)
	t.mu.Lock()
	t.last[key] = st
	if _, seen := t.ready[key]; st.ready && !seen {
		t.ready[key] = time.Now()
	}
	t.mu.Unlock()
	select {
	case t.change <- struct{}{}:
	default:
	}
}

// wait returns when all n objects have been Ready, or every one that is not
// is Stalled, or the timeout passes, or the process exits.
func (t *objTracker) wait(ctx context.Context, start time.Time, timeout time.Duration, exited <-chan struct{}) error {
	return waitAll(ctx, start, timeout, exited, t.change, t.n, "objects", "the peer", func() (int, int) {
		t.mu.Lock()
		defer t.mu.Unlock()
		ready, stalled := len(t.ready), 0
		for k, s := range t.last {
			if _, ok := t.ready[k]; s.stalled && !ok {
				stalled++
			}
		}
		return ready, stalled
	})
}

func (t *objTracker) readyTimes(start time.Time) []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return sinceSorted(start, t.ready)
}

// notReady counts the objects never Ready by their latest reason.
func (t *objTracker) notReady() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]int{}
	for k, s := range t.last {
		if _, ok := t.ready[k]; !ok {
			out[s.reason]++
		}
	}
	if missing := t.n - len(t.ready) - sumInts(out); missing > 0 {
		out["NoStatusYet"] += missing
	}
	return out
}

// lost counts objects Ready once but not at their latest event.
func (t *objTracker) lost() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k := range t.ready {
		if !t.last[k].ready {
			n++
		}
	}
	return n
}

func (t *objTracker) stop() {
	t.cancel()
	<-t.done
}
