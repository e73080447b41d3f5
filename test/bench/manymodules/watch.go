package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// watcher follows the extensions through one watch and records when each
// first became Ready for its generation.
type watcher struct {
	n      int
	w      watch.Interface
	mu     sync.Mutex
	ready  map[string]time.Time // first Ready
	dryRun map[string]bool      // Ready with a passed dry run in status
	reason map[string]string    // Ready reason at the latest event, while not Ready
	change chan struct{}
	done   chan struct{}
}

func startWatch(ctx context.Context, c client.WithWatch, n int) (*watcher, error) {
	var list v1alpha1.WasmExtensionList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	w, err := c.Watch(ctx, &v1alpha1.WasmExtensionList{}, client.InNamespace(namespace),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		return nil, err
	}
	x := &watcher{n: n, w: w, ready: map[string]time.Time{}, dryRun: map[string]bool{}, reason: map[string]string{},
		change: make(chan struct{}, 1), done: make(chan struct{})}
	go x.loop()
	return x, nil
}

func (x *watcher) loop() {
	defer close(x.done)
	for ev := range x.w.ResultChan() {
		if ext, ok := ev.Object.(*v1alpha1.WasmExtension); ok && ev.Type != watch.Deleted {
			x.observe(ext)
		}
	}
}

func (x *watcher) observe(ext *v1alpha1.WasmExtension) {
	c := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady)
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case c == nil:
		return
	case c.Status == metav1.ConditionTrue && c.ObservedGeneration == ext.Generation:
		if _, seen := x.ready[ext.Name]; !seen {
			x.ready[ext.Name] = time.Now()
		}
		m := ext.Status.Module
		x.dryRun[ext.Name] = m != nil && m.DryRun != nil && m.DryRun.Input != "" && m.DryRun.Skipped == ""
		delete(x.reason, ext.Name)
	default:
		x.reason[ext.Name] = c.Reason
	}
	select {
	case x.change <- struct{}{}:
	default:
	}
}

// wait returns once all n are Ready, or an error when the timeout passes,
// ctx ends, the watch ends or the operator exits.
func (x *watcher) wait(ctx context.Context, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.After(timeout)
	for {
		x.mu.Lock()
		all := len(x.ready) >= x.n
		x.mu.Unlock()
		if all {
			return nil
		}
		select {
		case <-x.change:
		case <-deadline:
			return fmt.Errorf("not all Ready after %s", timeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-x.done:
			return errors.New("the watch ended")
		case <-exited:
			return errors.New("the operator exited")
		}
	}
}

// lastReady is when the last extension became Ready.
func (x *watcher) lastReady() time.Time {
	x.mu.Lock()
	defer x.mu.Unlock()
	var last time.Time
	for _, t := range x.ready {
		if t.After(last) {
			last = t
		}
	}
	return last
}

// counts returns how many became Ready, how many of those show a passed
// dry run, and the Ready reasons of the others.
func (x *watcher) counts() (ready, dryRun int, notReady map[string]int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	notReady = map[string]int{}
	for _, r := range x.reason {
		notReady[r]++
	}
	for _, ok := range x.dryRun {
		if ok {
			dryRun++
		}
	}
	return len(x.ready), dryRun, notReady
}

func (x *watcher) stop() {
	x.w.Stop()
	<-x.done
}
