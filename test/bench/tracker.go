package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// tracker follows the extensions through a watch and records when each
// first became Ready for its generation.
type tracker struct {
	n      int
	mu     sync.Mutex
	ready  map[string]time.Time // first Ready
	now    map[string]bool      // Ready at the latest event
	reason map[string]string    // Ready reason at the latest event, while not Ready
	stalls map[string]bool
	// delivery is how the proxies would obtain each extension's module
	// (status.module.delivery at the latest event).
	delivery map[string]v1alpha1.Delivery
	change   chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}
}

func watchReady(ctx context.Context, c client.WithWatch, n int) (*tracker, error) {
	ctx, cancel := context.WithCancel(ctx)
	t := &tracker{n: n, ready: map[string]time.Time{}, now: map[string]bool{}, reason: map[string]string{},
		stalls: map[string]bool{}, delivery: map[string]v1alpha1.Delivery{}, change: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	var list v1alpha1.WasmExtensionList
	if err := c.List(ctx, &list); err != nil {
		cancel()
		return nil, err
	}
	w, err := c.Watch(ctx, &v1alpha1.WasmExtensionList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		cancel()
		return nil, err
	}
	go t.loop(ctx, c, w)
	return t, nil
}

func (t *tracker) loop(ctx context.Context, c client.WithWatch, w watch.Interface) {
	defer close(t.done)
	for {
		for ev := range w.ResultChan() {
			if ext, ok := ev.Object.(*v1alpha1.WasmExtension); ok && ev.Type != watch.Deleted {
				t.observe(ext)
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return
		}
		// The watch ended (timeout, compaction): list again and resume.
		var list v1alpha1.WasmExtensionList
		if err := c.List(ctx, &list); err != nil {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(time.Second)
			continue
		}
		for i := range list.Items {
			t.observe(&list.Items[i])
		}
		var err error
		if w, err = c.Watch(ctx, &v1alpha1.WasmExtensionList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}}); err != nil {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(time.Second)
			w = watch.NewEmptyWatch()
		}
	}
}

func (t *tracker) observe(ext *v1alpha1.WasmExtension) {
	key := ext.Namespace + "/" + ext.Name
	ready := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady)
	isReady := ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == ext.Generation
	stalled := meta.IsStatusConditionTrue(ext.Status.Conditions, v1alpha1.ConditionStalled)
	t.mu.Lock()
	t.now[key] = isReady
	t.stalls[key] = stalled
	if m := ext.Status.Module; m != nil {
		t.delivery[key] = m.Delivery
	}
	if isReady {
		if _, seen := t.ready[key]; !seen {
			t.ready[key] = time.Now()
		}
		delete(t.reason, key)
	} else if ready != nil {
		t.reason[key] = ready.Reason
	} else {
		t.reason[key] = "NoReadyCondition"
	}
	t.mu.Unlock()
	select {
	case t.change <- struct{}{}:
	default:
	}
}

// wait returns when all n extensions have been Ready, or every one that is
// not is Stalled, or the timeout passes, or the operator exits.
func (t *tracker) wait(ctx context.Context, start time.Time, timeout time.Duration, exited <-chan struct{}) error {
	return waitAll(ctx, start, timeout, exited, t.change, t.n, "extensions", "the operator", func() (int, int) {
		t.mu.Lock()
		defer t.mu.Unlock()
		ready, stalled := len(t.ready), 0
		for k, s := range t.stalls {
			if _, ok := t.ready[k]; s && !ok {
				stalled++
			}
		}
		return ready, stalled
	})
}

// waitAll returns when count says all n objects have been Ready, or every
// one that is not is Stalled, or timeout after start passes, or exited is
// closed; it counts again on every change and every 100 ms.
func waitAll(ctx context.Context, start time.Time, timeout time.Duration, exited, change <-chan struct{}, n int, objects, process string,
	count func() (ready, stalled int)) error {
	timer := time.NewTimer(time.Until(start.Add(timeout)))
	defer timer.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ready, stalled := count()
		switch {
		case ready >= n:
			return nil
		case stalled > 0 && ready+stalled >= n:
			return fmt.Errorf("%d of %d %s are Stalled and will not become Ready", stalled, n, objects)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New(process + " exited")
		case <-timer.C:
			return fmt.Errorf("only %d of %d %s Ready after %s", ready, n, objects, timeout)
		case <-change:
		case <-tick.C:
		}
	}
}

func (t *tracker) readyTimes(start time.Time) []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return sinceSorted(start, t.ready)
}

// sinceSorted returns the times in ready after start, sorted.
func sinceSorted(start time.Time, ready map[string]time.Time) []time.Duration {
	out := make([]time.Duration, 0, len(ready))
	for _, at := range ready {
		out = append(out, at.Sub(start))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (t *tracker) notReadyReasons() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]int{}
	for k, r := range t.reason {
		if _, ok := t.ready[k]; !ok {
			out[r]++
		}
	}
	if missing := t.n - len(t.ready) - sumInts(out); missing > 0 {
		out["NoStatusYet"] += missing
	}
	return out
}

// deliveries counts the extensions per delivery.
func (t *tracker) deliveries() map[v1alpha1.Delivery]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[v1alpha1.Delivery]int{}
	for _, d := range t.delivery {
		out[d]++
	}
	return out
}

// notReadyNow counts extensions Ready once but not at their latest event.
func (t *tracker) notReadyNow() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	lost := 0
	for k := range t.ready {
		if !t.now[k] {
			lost++
		}
	}
	return lost
}

func (t *tracker) stop() {
	t.cancel()
	<-t.done
}
