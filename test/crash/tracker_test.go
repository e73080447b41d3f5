package crash

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// tracker follows the extensions and the WasmPlugins through watches: it
// counts the writes to them but the creation of extensions (once the
// test's own updates have been seen, every further one is the operator's)
// and knows, per extension, whether it is Ready for its generation and its
// resourceVersion at its latest event.
type tracker struct {
	mu     sync.Mutex
	writes int
	byKind map[string]int // writes by kind and event type, e.g. "WasmPlugin ADDED"
	exts   map[types.NamespacedName]extState
	err    error // a watch ended
	change chan struct{}
}

type extState struct {
	ready    bool
	deleting bool // it has a deletionTimestamp
	rv       string
}

// startTracker lists the extensions and WasmPlugins and watches them from
// there until ctx ends.
func startTracker(ctx context.Context, c client.WithWatch) (*tracker, error) {
	tr := &tracker{exts: map[types.NamespacedName]extState{}, byKind: map[string]int{}, change: make(chan struct{}, 1)}
	var exts v1alpha1.WasmExtensionList
	if err := c.List(ctx, &exts); err != nil {
		return nil, err
	}
	for i := range exts.Items {
		tr.set(watch.Added, &exts.Items[i])
	}
	var plugins clientext.WasmPluginList
	if err := c.List(ctx, &plugins); err != nil {
		return nil, err
	}
	for _, w := range []struct {
		rv   string
		list func() client.ObjectList
	}{
		{exts.ResourceVersion, func() client.ObjectList { return &v1alpha1.WasmExtensionList{} }},
		{plugins.ResourceVersion, func() client.ObjectList { return &clientext.WasmPluginList{} }},
	} {
		rw, err := watchtools.NewRetryWatcherWithContext(ctx, w.rv, watcher{c: c, list: w.list})
		if err != nil {
			return nil, err
		}
		go tr.consume(ctx, rw)
	}
	return tr, nil
}

// watcher starts a watch of one kind with the test's client.
type watcher struct {
	c    client.WithWatch
	list func() client.ObjectList
}

func (w watcher) WatchWithContext(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
	return w.c.Watch(ctx, w.list(), &client.ListOptions{Raw: &o})
}

func (tr *tracker) consume(ctx context.Context, w watch.Interface) {
	defer w.Stop()
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Added, watch.Modified, watch.Deleted:
			tr.observe(ev.Type, ev.Object)
		case watch.Error:
			tr.fail(fmt.Errorf("watch error: %v", ev.Object))
			return
		}
	}
	if ctx.Err() == nil {
		tr.fail(errors.New("a watch ended"))
	}
}

// observe counts one write, unless it created an extension, and records
// an extension's state.
func (tr *tracker) observe(t watch.EventType, obj any) {
	tr.mu.Lock()
	_, ext := obj.(*v1alpha1.WasmExtension)
	if !ext || t != watch.Added {
		tr.writes++
	}
	kind := "WasmPlugin"
	if ext {
		kind = "WasmExtension"
	}
	tr.byKind[kind+" "+string(t)]++
	tr.set(t, obj)
	tr.mu.Unlock()
	tr.notify()
}

// set records an extension's state; tr.mu is held or not yet shared.
func (tr *tracker) set(t watch.EventType, obj any) {
	e, ok := obj.(*v1alpha1.WasmExtension)
	if !ok {
		return
	}
	key := types.NamespacedName{Namespace: e.Namespace, Name: e.Name}
	if t == watch.Deleted {
		delete(tr.exts, key)
		return
	}
	tr.exts[key] = extState{ready: readyForGeneration(e), deleting: e.DeletionTimestamp != nil, rv: e.ResourceVersion}
}

func (tr *tracker) fail(err error) {
	tr.mu.Lock()
	tr.err = err
	tr.mu.Unlock()
	tr.notify()
}

func (tr *tracker) notify() {
	select {
	case tr.change <- struct{}{}:
	default:
	}
}

// kinds returns the writes seen by kind and event type.
func (tr *tracker) kinds() map[string]int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return maps.Clone(tr.byKind)
}

// count returns the number of writes seen.
func (tr *tracker) count() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.writes
}

// seen returns the keys whose extensions have been seen and not deleted.
func (tr *tracker) seen(keys []types.NamespacedName) []types.NamespacedName {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []types.NamespacedName
	for _, k := range keys {
		if _, ok := tr.exts[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// eval returns f of the extensions' states.
func (tr *tracker) eval(f func(exts map[types.NamespacedName]extState) int) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return f(tr.exts)
}

// waitFor returns when cond holds (it is called with the tracker locked),
// or fails when timeout passes, a watch ends, the operator exits or ctx
// ends. what names the awaited state in the error.
func (tr *tracker) waitFor(ctx context.Context, timeout time.Duration, exited <-chan struct{}, what string,
	cond func(writes int, exts map[types.NamespacedName]extState) bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		tr.mu.Lock()
		ok, err := cond(tr.writes, tr.exts), tr.err
		tr.mu.Unlock()
		switch {
		case ok:
			return nil
		case err != nil:
			return err
		}
		select {
		case <-tr.change:
		case <-exited:
			return fmt.Errorf("the operator exited while waiting for %s", what)
		case <-deadline.C:
			return fmt.Errorf("no %s within %s", what, timeout)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}
