package controllers

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/verify"
	"github.com/wasmext/wasmext/internal/wasm"
)

// TestSetStatus runs the whole status computation: the summary conditions
// (kstatus), observedGeneration, and what status.module and
// status.rendered say afterwards.
func TestSetStatus(t *testing.T) {
	revoked, removed := revokedScope(false), revokedScope(true)
	type want struct {
		ready, stalled, reconciling condWant
		verified                    condWant
		observedGeneration          int64
		digest                      string // status.module.digest afterwards
		rendered                    int    // len(status.rendered) afterwards
		msg                         string // in Ready's message
	}
	cases := []struct {
		name string
		ext  *v1alpha1.WasmExtension
		s    *scope
		want want
	}{
		{"success", previouslyReady(), okScope(), want{ready: yes, verified: yes, observedGeneration: 2, digest: newDigest, rendered: 1, msg: "WasmPlugin f serves r/x@" + newDigest}},
		{"success without spec.verify", unverified(), okScope(), want{ready: yes, verified: absent, observedGeneration: 2, digest: newDigest, rendered: 1}},
		{"not proxy-wasm keeps last good", previouslyReady(), reached(v1alpha1.ConditionModuleValidated, fmt.Errorf("x: %w", wasm.ErrNotProxyWasm)), want{
			ready: no(v1alpha1.ReasonNotProxyWasm), stalled: stalled(v1alpha1.ReasonNotProxyWasm), verified: yes,
			observedGeneration: 2, digest: oldDigest, rendered: 1, msg: "keeps serving the last good module r/x@" + oldDigest}},
		{"registry down is transient", previouslyReady(), reached(v1alpha1.ConditionModuleFetched, errors.New("connection refused")), want{
			ready: no(v1alpha1.ReasonFetchFailed), reconciling: stalled(v1alpha1.ReasonFetchFailed),
			observedGeneration: 1, digest: oldDigest, rendered: 1, msg: "(retrying)"}},
		{"unauthorized is stalled", previouslyReady(), reached(v1alpha1.ConditionModuleFetched, fmt.Errorf("x: %w", oci.ErrUnauthorized)), want{
			ready: no(v1alpha1.ReasonUnauthorized), stalled: stalled(v1alpha1.ReasonUnauthorized), observedGeneration: 2, digest: oldDigest, rendered: 1}},
		{"pinned digest mismatch", previouslyReady(), reached(v1alpha1.ConditionModuleFetched, fmt.Errorf("x: %w", errPinnedDigest)), want{
			ready: no(v1alpha1.ReasonPinnedDigestMismatch), stalled: stalled(v1alpha1.ReasonPinnedDigestMismatch), observedGeneration: 2, digest: oldDigest, rendered: 1}},
		{"signature missing on a new digest", previouslyReady(), reached(v1alpha1.ConditionModuleVerified, fmt.Errorf("x: %w", verify.ErrSignatureMissing)), want{
			ready: no(v1alpha1.ReasonSignatureMissing), stalled: stalled(v1alpha1.ReasonSignatureMissing), verified: no(v1alpha1.ReasonSignatureMissing),
			observedGeneration: 2, digest: oldDigest, rendered: 1, msg: "keeps serving the last good module"}},
		{"rendered digest revoked, kept", previouslyReady(), revoked, want{
			ready: no(v1alpha1.ReasonSignatureInvalid), stalled: stalled(v1alpha1.ReasonSignatureInvalid), verified: no(v1alpha1.ReasonSignatureInvalid),
			observedGeneration: 2, digest: oldDigest, rendered: 1, msg: "whose signature no longer verifies"}},
		{"rendered digest revoked, removed", previouslyReady(), removed, want{
			ready: no(v1alpha1.ReasonSignatureInvalid), stalled: stalled(v1alpha1.ReasonSignatureInvalid), verified: no(v1alpha1.ReasonSignatureInvalid),
			observedGeneration: 2, digest: oldDigest, rendered: 0, msg: "removed WasmPlugin f"}},
		{"apply conflict is transient", previouslyReady(), reached(v1alpha1.ConditionRendered, errors.New("conflict")), want{
			ready: no(v1alpha1.ReasonApplyFailed), reconciling: stalled(v1alpha1.ReasonApplyFailed), verified: yes,
			observedGeneration: 1, digest: oldDigest, rendered: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ext, w := tc.ext, tc.want
			setStatus(ext, tc.s)
			checkCond(t, ext, v1alpha1.ConditionReady, w.ready)
			checkCond(t, ext, v1alpha1.ConditionStalled, w.stalled)
			checkCond(t, ext, v1alpha1.ConditionReconciling, w.reconciling)
			checkCond(t, ext, v1alpha1.ConditionModuleVerified, w.verified)
			if ext.Status.ObservedGeneration != w.observedGeneration {
				t.Errorf("observedGeneration = %d, want %d", ext.Status.ObservedGeneration, w.observedGeneration)
			}
			if ext.Status.Module.Digest != w.digest || len(ext.Status.Rendered) != w.rendered {
				t.Errorf("status.module.digest = %s, %d rendered; want %s, %d", ext.Status.Module.Digest, len(ext.Status.Rendered), w.digest, w.rendered)
			}
			if r := cond(ext, v1alpha1.ConditionReady); !contains(r.Message, w.msg) {
				t.Errorf("Ready message %q lacks %q", r.Message, w.msg)
			}
		})
	}
}

// revokedScope is a reconcile in which the rendered digest's signature no
// longer verified, and its objects were removed if removed.
func revokedScope(removed bool) *scope {
	s := reached(v1alpha1.ConditionModuleVerified, fmt.Errorf("x: %w", verify.ErrSignatureInvalid))
	s.resolved.Digest = oldDigest
	s.revoked, s.removed = true, removed
	return s
}

// TestSetStatusKeepsVerifiedAt: re-verifying the same digest by the same
// key (after a trust change) keeps the recorded time, so status is unchanged.
func TestSetStatusKeepsVerifiedAt(t *testing.T) {
	ext := previouslyReady()
	s := okScope()
	s.facts.Digest, s.resolved.Digest = oldDigest, oldDigest
	setStatus(ext, s)
	if got := ext.Status.Module.VerifiedAt; got == nil || !got.Equal(&verifiedAt) {
		t.Fatalf("verifiedAt = %v, want the recorded %v", got, verifiedAt)
	}
	s.verified.by = "key B"
	setStatus(ext, s)
	if got := ext.Status.Module.VerifiedAt; got.Equal(&verifiedAt) {
		t.Fatal("a verification by another key kept the old time")
	}
}

// TestSetStatusSuspendedAndRequests: a suspended extension's status is left
// as it is; a handled reconcile request is recorded.
func TestSetStatusSuspendedAndRequests(t *testing.T) {
	ext := previouslyReady()
	before := ext.DeepCopy()
	setStatus(ext, &scope{ext: ext, suspended: true})
	if !statusEqual(before.Status, ext.Status) {
		t.Fatalf("suspended: status changed to %+v", ext.Status)
	}
	s := okScope()
	s.requested = "2026-12-01T10:00:00Z"
	setStatus(ext, s)
	if ext.Status.LastHandledReconcileAt != s.requested {
		t.Fatalf("lastHandledReconcileAt = %q, want %q", ext.Status.LastHandledReconcileAt, s.requested)
	}
}

func TestResultBackoffAndInterval(t *testing.T) {
	ext := previouslyReady()
	ext.UID = "uid-1"
	s := reached(v1alpha1.ConditionModuleFetched, errors.New("timeout"))
	s.ext = ext
	if _, err := s.result(); err == nil {
		t.Fatal("transient failure must return an error (backoff)")
	}
	s = reached(v1alpha1.ConditionModuleFetched, errNotFound)
	s.ext = ext
	res, err := s.result()
	if err != nil || res.RequeueAfter < DefaultInterval || res.RequeueAfter > DefaultInterval+DefaultInterval/10 {
		t.Fatalf("stalled: got %+v, %v; want a requeue within 10%% after the interval, no error", res, err)
	}
	s = okScope()
	s.ext = ext
	if res, err := s.result(); err != nil || res.RequeueAfter != 0 {
		t.Fatalf("digest-pinned success: got %+v, %v; want no requeue", res, err)
	}
	s.suspended, s.tagged = true, true
	if res, err := s.result(); err != nil || res.RequeueAfter != 0 {
		t.Fatalf("suspended: got %+v, %v; want no requeue", res, err)
	}
}
