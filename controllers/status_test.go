package controllers

import (
	"errors"
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/verify"
	"github.com/wasmext/wasmext/internal/wasm"
)

const (
	oldDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	newDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// previouslyReady is an extension whose generation 1 was rendered with
// oldDigest and whose spec is now at generation 2.
func previouslyReady() *v1alpha1.WasmExtension {
	ext := &v1alpha1.WasmExtension{}
	ext.Name, ext.Generation = "f", 2
	ext.Status = v1alpha1.WasmExtensionStatus{
		ObservedGeneration: 1,
		Module:             &v1alpha1.ModuleStatus{Repository: "r/x", Digest: oldDigest, ABI: "proxy_abi_version_0_2_1"},
		Rendered:           []v1alpha1.RenderedObject{{Kind: "WasmPlugin", Name: "f"}},
	}
	return ext
}

func okScope() *scope {
	s := &scope{
		resolved: oci.Resolved{Repository: "r/x", Digest: digest.Digest(newDigest)},
		facts:    &module.Facts{Repository: "r/x", Digest: newDigest, ABI: "proxy_abi_version_0_2_1", Format: oci.FormatCNCF},
		rendered: []v1alpha1.RenderedObject{{APIVersion: "extensions.istio.io/v1alpha1", Kind: "WasmPlugin", Name: "f"}},
	}
	for _, c := range []string{v1alpha1.ConditionModuleFetched, v1alpha1.ConditionModuleValidated, v1alpha1.ConditionRendered} {
		s.pass(c, "ok")
	}
	return s
}

// failedScope is a reconcile in which the steps reporting on passed
// conditions passed and the one reporting on cond failed with err.
func failedScope(cond string, err error, passed ...string) *scope {
	s := okScope()
	s.passed = nil
	for _, c := range passed {
		s.pass(c, "ok")
	}
	s.fail(stepError(cond, err))
	return s
}

func TestSetStatus(t *testing.T) {
	type want struct {
		ready, stalled, reconciling  metav1.ConditionStatus // "" = absent
		reason                       string
		fetched, validated, rendered metav1.ConditionStatus // "" = absent
		observedGeneration           int64
		digest                       string // status.module.digest afterwards
	}
	cases := []struct {
		name string
		s    *scope
		want want
	}{
		{"success", okScope(), want{
			ready: "True", reason: v1alpha1.ReasonSucceeded,
			fetched: "True", validated: "True", rendered: "True", observedGeneration: 2, digest: newDigest}},
		{"not proxy-wasm keeps last good", failedScope(v1alpha1.ConditionModuleValidated, fmt.Errorf("x: %w", wasm.ErrNotProxyWasm), v1alpha1.ConditionModuleFetched), want{
			ready: "False", stalled: "True", reason: v1alpha1.ReasonNotProxyWasm,
			fetched: "True", validated: "False", observedGeneration: 2, digest: oldDigest}},
		{"unauthorized is stalled", failedScope(v1alpha1.ConditionModuleFetched, fmt.Errorf("x: %w", oci.ErrUnauthorized)), want{
			ready: "False", stalled: "True", reason: v1alpha1.ReasonUnauthorized,
			fetched: "False", observedGeneration: 2, digest: oldDigest}},
		{"registry down is transient", failedScope(v1alpha1.ConditionModuleFetched, errors.New("connection refused")), want{
			ready: "False", reconciling: "True", reason: v1alpha1.ReasonFetchFailed,
			fetched: "False", observedGeneration: 1, digest: oldDigest}},
		{"apply conflict is transient", failedScope(v1alpha1.ConditionRendered, errors.New("conflict"), v1alpha1.ConditionModuleFetched, v1alpha1.ConditionModuleValidated), want{
			ready: "False", reconciling: "True", reason: v1alpha1.ReasonApplyFailed,
			fetched: "True", validated: "True", rendered: "False", observedGeneration: 1, digest: oldDigest}},
		{"signature missing is stalled", failedScope(v1alpha1.ConditionModuleVerified, fmt.Errorf("x: %w", verify.ErrSignatureMissing)), want{
			ready: "False", stalled: "True", reason: v1alpha1.ReasonSignatureMissing,
			observedGeneration: 2, digest: oldDigest}},
		{"identity mismatch is stalled", failedScope(v1alpha1.ConditionModuleVerified, fmt.Errorf("x: %w", verify.ErrIdentityMismatch)), want{
			ready: "False", stalled: "True", reason: v1alpha1.ReasonIdentityMismatch,
			observedGeneration: 2, digest: oldDigest}},
		{"name conflict is stalled", failedScope(v1alpha1.ConditionRendered, fmt.Errorf("x: %w", errNameConflict), v1alpha1.ConditionModuleFetched, v1alpha1.ConditionModuleValidated), want{
			ready: "False", stalled: "True", reason: v1alpha1.ReasonNameConflict,
			fetched: "True", validated: "True", rendered: "False", observedGeneration: 2, digest: oldDigest}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ext := previouslyReady()
			setStatus(ext, tc.s)
			w := tc.want
			for typ, st := range map[string]metav1.ConditionStatus{
				v1alpha1.ConditionReady: w.ready, v1alpha1.ConditionStalled: w.stalled, v1alpha1.ConditionReconciling: w.reconciling,
				v1alpha1.ConditionModuleFetched: w.fetched, v1alpha1.ConditionModuleValidated: w.validated, v1alpha1.ConditionRendered: w.rendered,
			} {
				c := meta.FindStatusCondition(ext.Status.Conditions, typ)
				switch {
				case st == "" && c != nil:
					t.Errorf("%s = %s, want absent", typ, c.Status)
				case st != "" && (c == nil || c.Status != st):
					t.Errorf("%s = %v, want %s", typ, c, st)
				}
			}
			if r := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady); r.Reason != w.reason {
				t.Errorf("Ready reason = %s, want %s", r.Reason, w.reason)
			}
			if ext.Status.ObservedGeneration != w.observedGeneration {
				t.Errorf("observedGeneration = %d, want %d", ext.Status.ObservedGeneration, w.observedGeneration)
			}
			if ext.Status.Module.Digest != w.digest {
				t.Errorf("status.module.digest = %s, want %s", ext.Status.Module.Digest, w.digest)
			}
		})
	}
}

func TestFailureMessageNamesLastKnownGood(t *testing.T) {
	ext := previouslyReady()
	s := failedScope(v1alpha1.ConditionModuleValidated, fmt.Errorf("bad: %w", wasm.ErrNotProxyWasm))
	setStatus(ext, s)
	r := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady)
	if want := "keeps serving the last good module r/x@" + oldDigest; !contains(r.Message, want) {
		t.Fatalf("Ready message %q lacks %q", r.Message, want)
	}
}

func TestResultBackoffAndInterval(t *testing.T) {
	ext := previouslyReady()
	s := failedScope(v1alpha1.ConditionModuleFetched, errors.New("timeout"))
	s.ext = ext
	if _, err := s.result(); err == nil {
		t.Fatal("transient failure must return an error (backoff)")
	}
	s = failedScope(v1alpha1.ConditionModuleFetched, fmt.Errorf("x: %w", oci.ErrNotFound))
	s.ext = ext
	res, err := s.result()
	if err != nil || res.RequeueAfter != DefaultInterval {
		t.Fatalf("stalled: got %+v, %v; want requeue after the interval, no error", res, err)
	}
	s = okScope()
	s.ext = ext
	if res, err := s.result(); err != nil || res.RequeueAfter != 0 {
		t.Fatalf("digest-pinned success: got %+v, %v; want no requeue", res, err)
	}
}
