package eventqueue

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// sink records what reaches the next recorder.
type sink struct {
	mu   sync.Mutex
	got  []string // "type reason regarding-name: note"
	sent chan struct{}
}

func (s *sink) Eventf(regarding, _ runtime.Object, eventtype, reason, _, note string, args ...any) {
	name := ""
	switch o := regarding.(type) {
	case *corev1.ObjectReference:
		name = o.Name
	case metav1.Object:
		name = o.GetName()
	}
	s.mu.Lock()
	s.got = append(s.got, fmt.Sprintf("%s %s %s: %s", eventtype, reason, name, fmt.Sprintf(note, args...)))
	s.mu.Unlock()
	s.sent <- struct{}{}
}

func (s *sink) AnnotatedEventf(regarding, related runtime.Object, _ map[string]string, eventtype, reason, action, note string, args ...any) {
	s.Eventf(regarding, related, eventtype, reason, action, note, args...)
}

func (s *sink) events() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func pod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)}}
}

func newQueue(qps float32, burst int) (*Queue, *sink) {
	s := &sink{sent: make(chan struct{}, 100)}
	return New(s, clientgoscheme.Scheme, Options{QPS: qps, Burst: burst}), s
}

// TestNormalEventsWaitAndMerge: Normal Events are not sent before Start,
// one per object, a second merged into the first; Warnings go at once.
func TestNormalEventsWaitAndMerge(t *testing.T) {
	q, s := newQueue(1000, 1000)
	q.Eventf(pod("a"), nil, corev1.EventTypeNormal, "Fetched", "Fetch", "fetched %s", "x@sha256:1")
	q.Eventf(pod("b"), nil, corev1.EventTypeNormal, "Rendered", "Apply", "applied b")
	q.Eventf(pod("a"), nil, corev1.EventTypeNormal, "Rendered", "Apply", "applied a")
	q.Eventf(pod("a"), nil, corev1.EventTypeWarning, "NotFound", "Reconcile", "gone")
	<-s.sent
	if got := s.events(); len(got) != 1 || got[0] != "Warning NotFound a: gone" {
		t.Fatalf("before Start: sent %q, want only the Warning", got)
	}
	if q.Len() != 2 || q.Merged() != 1 {
		t.Fatalf("Len %d Merged %d, want 2 objects waiting and 1 merge", q.Len(), q.Merged())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- q.Start(ctx) }()
	<-s.sent
	<-s.sent
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Warning NotFound a: gone",
		"Normal Rendered a: fetched x@sha256:1; then applied a",
		"Normal Rendered b: applied b",
	}
	if got := s.events(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("sent\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if q.Len() != 0 {
		t.Fatalf("Len %d after sending, want 0", q.Len())
	}
}

// TestStopSendsWhatWaits: Events still waiting for the rate when the
// queue stops are sent, not dropped.
func TestStopSendsWhatWaits(t *testing.T) {
	q, s := newQueue(0.001, 1) // one token, then one per 1,000 s
	for i := range 5 {
		q.Eventf(pod(fmt.Sprint("p", i)), nil, corev1.EventTypeNormal, "Rendered", "Apply", "applied")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- q.Start(ctx) }()
	<-s.sent // the burst of one
	if n := len(s.events()); n != 1 {
		t.Fatalf("sent %d with a burst of 1, want 1", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := s.events(); len(got) != 5 {
		t.Fatalf("sent %d of 5 after the stop: %q", len(got), got)
	}
}

// TestUnreferenceableGoesAtOnce: an object without a UID cannot be keyed,
// so its Event is not queued.
func TestUnreferenceableGoesAtOnce(t *testing.T) {
	q, s := newQueue(1, 1)
	p := pod("no-uid")
	p.UID = ""
	q.Eventf(p, nil, corev1.EventTypeNormal, "Rendered", "Apply", "applied")
	<-s.sent
	if q.Len() != 0 || len(s.events()) != 1 {
		t.Fatalf("Len %d, sent %q: want it sent at once", q.Len(), s.events())
	}
}

func TestJoin(t *testing.T) {
	long := strings.Repeat("x", MaxNote)
	for _, tc := range []struct{ earlier, note, want string }{
		{"", "a", "a"},
		{"a", "b", "a; then b"},
		{"", long + "yz", "…" + long[len("…")+2:] + "yz"},
	} {
		got := Join(tc.earlier, tc.note)
		if got != tc.want || len(got) > MaxNote {
			t.Errorf("Join(%.10q, %.10q) = %.20q (%d bytes), want %.20q", tc.earlier, tc.note, got, len(got), tc.want)
		}
	}
}

// TestBusyHoldsEvents: while Busy says so, Normal Events wait; once idle
// they are sent. The oldest waits at most MaxHold.
func TestBusyHoldsEvents(t *testing.T) {
	s := &sink{sent: make(chan struct{}, 100)}
	var mu sync.Mutex
	busy := true
	q := New(s, clientgoscheme.Scheme, Options{QPS: 1000, Burst: 1000, MaxHold: time.Hour, Busy: func() bool {
		mu.Lock()
		defer mu.Unlock()
		return busy
	}})
	q.held = make(chan struct{}, 1)
	q.Eventf(pod("a"), nil, corev1.EventTypeNormal, "Rendered", "Apply", "applied a")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- q.Start(ctx) }()
	<-q.held
	<-q.held // decided twice to hold: nothing was sent in between
	if got := s.events(); len(got) != 0 {
		t.Fatalf("sent %q while busy", got)
	}
	mu.Lock()
	busy = false
	mu.Unlock()
	<-s.sent
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := s.events(); len(got) != 1 {
		t.Fatalf("sent %q once idle, want the Event", got)
	}

	// Held longer than MaxHold: sent although busy.
	q2, s2 := newQueue(1000, 1000)
	q2.busy, q2.maxHold = func() bool { return true }, time.Nanosecond
	q2.Eventf(pod("b"), nil, corev1.EventTypeNormal, "Rendered", "Apply", "applied b")
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done <- q2.Start(ctx2) }()
	<-s2.sent
	cancel2()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := s2.events(); len(got) != 1 {
		t.Fatalf("sent %q after MaxHold, want the Event", got)
	}
}
