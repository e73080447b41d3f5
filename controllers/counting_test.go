package controllers

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/wasmext/wasmext/internal/sandbox"
)

// writeCounter counts the operator's API writes per namespace: every
// request other than a read that its clients send (objects, status,
// finalizers, deletions), and every Event it is asked to emit (counted when
// asked, so an Event still queued in the broadcaster counts too; Event
// requests themselves are not counted again).
type writeCounter struct {
	m   sync.Map // namespace -> *atomic.Int64: API writes and Events
	api sync.Map // namespace -> *atomic.Int64: API writes other than Events
}

func (w *writeCounter) add(ns string) { inc(&w.m, ns) }

func inc(m *sync.Map, ns string) {
	v, _ := m.LoadOrStore(ns, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func load(m *sync.Map, ns string) int64 {
	if v, ok := m.Load(ns); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// in returns the writes (Events included) counted in namespace ns so far.
func (w *writeCounter) in(ns string) int64 { return load(&w.m, ns) }

// apiIn returns the API writes other than Events counted in namespace ns:
// those on an extension's path to Ready.
func (w *writeCounter) apiIn(ns string) int64 { return load(&w.api, ns) }

// transport wraps the manager's HTTP transport.
func (w *writeCounter) transport(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			if ns, ok := namespaceOf(req.URL.Path); ok && !strings.Contains(req.URL.Path, "/events") {
				w.add(ns)
				inc(&w.api, ns)
			}
		}
		return rt.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// namespaceOf returns the namespace of a namespaced API path.
func namespaceOf(path string) (string, bool) {
	_, rest, ok := strings.Cut(path, "/namespaces/")
	if !ok {
		return "", false
	}
	ns, _, _ := strings.Cut(rest, "/")
	return ns, ns != ""
}

// countingRecorder counts every Event the reconciler emits, in the
// namespace of the object it is about.
type countingRecorder struct {
	recorder.EventRecorder
	n *writeCounter
}

func (c countingRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	if m, err := meta.Accessor(regarding); err == nil {
		c.n.add(m.GetNamespace())
	}
	c.EventRecorder.Eventf(regarding, related, eventtype, reason, action, note, args...)
}

// countingSandbox counts, per module sha256, the calls that reached the
// sandbox and the dry runs it really made (not answered from memory).
type countingSandbox struct {
	*sandbox.Sandbox
	mu          sync.Mutex
	calls, runs map[string]int
}

func (c *countingSandbox) Run(ctx context.Context, in sandbox.Input) (sandbox.Report, error) {
	rep, err := c.Sandbox.Run(ctx, in)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls, c.runs = map[string]int{}, map[string]int{}
	}
	c.calls[in.SHA256]++
	if !rep.Cached {
		c.runs[in.SHA256]++
	}
	return rep, err
}

// counts returns the calls and real dry runs of the module with this sha256.
func (c *countingSandbox) counts(sha string) (calls, runs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[sha], c.runs[sha]
}
