package controllers

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/wasm"
)

var (
	confirmed0 = time.Date(2026, 12, 1, 8, 0, 0, 500, time.UTC)
	confirmed1 = time.Date(2026, 12, 1, 8, 10, 0, 700, time.UTC)
	errOutage  = fmt.Errorf("resolve r/x:v1: %w: %w", oci.ErrUnavailable, syscall.ECONNREFUSED)
)

// servingOld is an extension rendered with oldDigest for its current
// generation (2), Ready, confirmed at confirmed0.
func servingOld(t *testing.T) *v1alpha1.WasmExtension {
	t.Helper()
	ext := previouslyReady()
	s := okScope()
	s.facts.Digest, s.resolved.Digest = oldDigest, oldDigest
	s.confirmed = &resolution{resolved: s.resolved, at: confirmed0}
	setStatus(ext, s)
	checkCond(t, ext, v1alpha1.ConditionReady, yes)
	return roundTrip(t, ext)
}

// outageScope is a reconcile whose resolve found the registry unavailable;
// this process last resolved oldDigest at at.
func outageScope(at time.Time) *scope {
	s := reached(v1alpha1.ConditionModuleFetched, errOutage)
	s.resolved = oci.Resolved{}
	s.confirmed = &resolution{resolved: oci.Resolved{Repository: "r/x", Digest: digest.Digest(oldDigest)}, at: at}
	return s
}

// roundTrip writes and reads ext as the API server would (times to seconds).
func roundTrip(t *testing.T, ext *v1alpha1.WasmExtension) *v1alpha1.WasmExtension {
	t.Helper()
	b, err := json.Marshal(ext)
	if err != nil {
		t.Fatal(err)
	}
	out := &v1alpha1.WasmExtension{}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSetStatusOutage: an outage while Ready for this generation keeps
// Ready True (Reason RegistryUnavailable, kstatus Current), says what is
// served, since when and when it was last confirmed, records the last
// resolve as confirmedAt, and writes nothing more while it lasts.
func TestSetStatusOutage(t *testing.T) {
	ext := servingOld(t)
	setStatus(ext, outageScope(confirmed1))
	checkCond(t, ext, v1alpha1.ConditionModuleFetched, no(v1alpha1.ReasonRegistryUnavailable))
	checkCond(t, ext, v1alpha1.ConditionReady, condWant{metav1.ConditionTrue, v1alpha1.ReasonRegistryUnavailable})
	checkCond(t, ext, v1alpha1.ConditionReconciling, absent)
	checkCond(t, ext, v1alpha1.ConditionStalled, absent)
	assertCurrent(t, ext)
	m := ext.Status.Module
	if m.Digest != oldDigest || len(ext.Status.Rendered) != 1 || ext.Status.ObservedGeneration != 2 {
		t.Fatalf("status.module %s, %d rendered, observedGeneration %d", m.Digest, len(ext.Status.Rendered), ext.Status.ObservedGeneration)
	}
	if want := confirmed1.Truncate(time.Second); m.ConfirmedAt == nil || !m.ConfirmedAt.Time.Equal(want) {
		t.Fatalf("confirmedAt = %v, want the last resolve %v", m.ConfirmedAt, want)
	}
	fetched := cond(ext, v1alpha1.ConditionModuleFetched)
	want := fmt.Sprintf("WasmPlugin f serves r/x@%s; registry unavailable since %s, last confirmed at %s",
		oldDigest, fetched.LastTransitionTime.UTC().Format(time.RFC3339), "2026-12-01T08:10:00Z")
	if got := cond(ext, v1alpha1.ConditionReady).Message; got != want {
		t.Fatalf("Ready message\n %q, want\n %q", got, want)
	}
	before := roundTrip(t, ext)
	again := before.DeepCopy()
	setStatus(again, outageScope(confirmed1))
	if !statusEqual(before.Status, again.Status) {
		t.Fatalf("a retry during the outage changed status:\n%+v\n%+v", before.Status, again.Status)
	}
}

// TestSetStatusOutageNotReady: without a version in use for this
// generation, an outage is an ordinary transient failure: Ready False,
// Reconciling True.
func TestSetStatusOutageNotReady(t *testing.T) {
	newSpec := servingOld(t)
	newSpec.Generation = 3
	first := previouslyReady()
	first.Status = v1alpha1.WasmExtensionStatus{}
	refused := servingOld(t)
	setStatus(refused, reached(v1alpha1.ConditionModuleValidated, fmt.Errorf("x: %w", wasm.ErrNotProxyWasm)))
	for name, ext := range map[string]*v1alpha1.WasmExtension{"spec changed": newSpec, "never rendered": first, "last new version refused": refused} {
		t.Run(name, func(t *testing.T) {
			setStatus(ext, outageScope(confirmed1))
			checkCond(t, ext, v1alpha1.ConditionReady, no(v1alpha1.ReasonRegistryUnavailable))
			checkCond(t, ext, v1alpha1.ConditionReconciling, stalled(v1alpha1.ReasonRegistryUnavailable))
			if !strings.Contains(cond(ext, v1alpha1.ConditionReady).Message, "(retrying)") {
				t.Errorf("Ready message %q", cond(ext, v1alpha1.ConditionReady).Message)
			}
		})
	}
}

// TestConfirmedAt: confirmedAt is kept at steady state (no write per
// interval), moves on recovery and with a new digest.
func TestConfirmedAt(t *testing.T) {
	steady := servingOld(t)
	s := okScope()
	s.facts.Digest, s.resolved.Digest = oldDigest, oldDigest
	s.confirmed = &resolution{resolved: s.resolved, at: confirmed1}
	setStatus(steady, s)
	if got := steady.Status.Module.ConfirmedAt; !got.Time.Equal(confirmed0.Truncate(time.Second)) {
		t.Errorf("steady state: confirmedAt = %v, want it kept at %v", got, confirmed0)
	}

	recovered := servingOld(t)
	setStatus(recovered, outageScope(confirmed0))
	later := confirmed1.Add(time.Hour)
	s.confirmed = &resolution{resolved: s.resolved, at: later}
	setStatus(recovered, s)
	checkCond(t, recovered, v1alpha1.ConditionReady, yes)
	if got := recovered.Status.Module.ConfirmedAt; !got.Time.Equal(later.Truncate(time.Second)) {
		t.Errorf("recovery: confirmedAt = %v, want %v", got, later)
	}

	moved := servingOld(t)
	s = okScope()
	s.confirmed = &resolution{resolved: s.resolved, at: later}
	setStatus(moved, s)
	if got := moved.Status.Module.ConfirmedAt; moved.Status.Module.Digest != newDigest || !got.Time.Equal(later.Truncate(time.Second)) {
		t.Errorf("new digest: %s confirmedAt = %v, want %v", moved.Status.Module.Digest, got, later)
	}
}

// TestBackoffCapped: retries of one extension back off exponentially up to
// MaxBackoff, never beyond, and the first are fast.
func TestBackoffCapped(t *testing.T) {
	rl := rateLimiter()
	item := reconcile.Request{NamespacedName: client.ObjectKey{Namespace: "n", Name: "x"}}
	var last time.Duration
	for i := range 40 {
		d := rl.When(item)
		if d > MaxBackoff {
			t.Fatalf("retry %d waits %s, over the cap %s", i, d, MaxBackoff)
		}
		if i == 0 && d > time.Second {
			t.Fatalf("first retry waits %s", d)
		}
		last = d
	}
	if last != MaxBackoff {
		t.Fatalf("after 40 failures the backoff is %s, want the cap %s", last, MaxBackoff)
	}
	rl.Forget(item)
	if d := rl.When(item); d > time.Second {
		t.Fatalf("after Forget the backoff is %s", d)
	}
}
