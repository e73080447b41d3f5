package controllers

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/sandbox"
	"github.com/wasmext/wasmext/internal/verify"
	"github.com/wasmext/wasmext/internal/wasm"
)

const (
	oldDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	newDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

var verifiedAt = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

// previouslyReady is an extension with spec.verify whose generation 1 was
// rendered with oldDigest, verified, and whose spec is now at generation 2.
func previouslyReady() *v1alpha1.WasmExtension {
	ext := &v1alpha1.WasmExtension{}
	ext.Name, ext.Generation = "f", 2
	ext.Spec.Verify = &v1alpha1.Verification{Cosign: v1alpha1.CosignVerification{PublicKeySecretRef: &v1alpha1.LocalObjectReference{Name: "k"}}}
	ext.Status = v1alpha1.WasmExtensionStatus{
		ObservedGeneration: 1,
		Module: &v1alpha1.ModuleStatus{Repository: "r/x", Digest: oldDigest, ABI: "proxy_abi_version_0_2_1",
			VerifiedBy: "key A", VerifiedAt: &verifiedAt},
		Rendered: []v1alpha1.RenderedObject{{Kind: "WasmPlugin", Name: "f"}},
	}
	return ext
}

// unverified is previouslyReady without spec.verify.
func unverified() *v1alpha1.WasmExtension {
	ext := previouslyReady()
	ext.Spec.Verify = nil
	ext.Status.Module.VerifiedBy, ext.Status.Module.VerifiedAt = "", nil
	return ext
}

// okScope is a reconcile in which every step passed for newDigest.
func okScope() *scope {
	return &scope{
		resolved: oci.Resolved{Repository: "r/x", Digest: digest.Digest(newDigest)},
		verified: &verified{key: verificationKey{digest: newDigest, generation: 2}, by: "key A", at: metav1.Now()},
		facts:    &module.Facts{Repository: "r/x", Digest: newDigest, ABI: "proxy_abi_version_0_2_1", Format: oci.FormatCNCF},
		rendered: []v1alpha1.RenderedObject{{APIVersion: "extensions.istio.io/v1alpha1", Kind: "WasmPlugin", Name: "f"}},
		why:      "output WasmPlugin",
		dryRun:   &v1alpha1.DryRunStatus{Input: "k", EntryPoint: "_initialize"},
	}
}

// reached returns a scope that got as far as the step reporting on cond
// and failed there with err: the observations of later steps are absent.
func reached(cond string, err error) *scope {
	s := okScope()
	s.rendered = nil
	switch cond {
	case v1alpha1.ConditionModuleFetched:
		s.verified, s.facts = nil, nil
	case v1alpha1.ConditionModuleVerified:
		s.verified, s.facts = nil, nil
	case v1alpha1.ConditionModuleValidated:
		s.facts = nil
	}
	s.fail(stepError(cond, err))
	return s
}

func cond(ext *v1alpha1.WasmExtension, typ string) *metav1.Condition {
	return meta.FindStatusCondition(ext.Status.Conditions, typ)
}

// condWant is a condition's expected status and reason ("" status = absent).
type condWant struct {
	status metav1.ConditionStatus
	reason string
}

func checkCond(t *testing.T, ext *v1alpha1.WasmExtension, typ string, w condWant) {
	t.Helper()
	c := cond(ext, typ)
	switch {
	case w.status == "" && c != nil:
		t.Errorf("%s = %s (%s), want absent", typ, c.Status, c.Reason)
	case w.status == "":
	case c == nil:
		t.Errorf("%s absent, want %s (%s)", typ, w.status, w.reason)
	case c.Status != w.status || (w.reason != "" && c.Reason != w.reason):
		t.Errorf("%s = %s (%s), want %s (%s)", typ, c.Status, c.Reason, w.status, w.reason)
	}
}

var (
	yes         = condWant{metav1.ConditionTrue, v1alpha1.ReasonSucceeded}
	absent      = condWant{}
	no          = func(reason string) condWant { return condWant{metav1.ConditionFalse, reason} }
	stalled     = func(reason string) condWant { return condWant{metav1.ConditionTrue, reason} }
	errNotFound = fmt.Errorf("x: %w", oci.ErrNotFound)
)

func TestSetModuleFetched(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *scope
		want condWant
	}{
		{"pulled", okScope(), yes},
		{"not found", reached(v1alpha1.ConditionModuleFetched, errNotFound), no(v1alpha1.ReasonNotFound)},
		{"registry down", reached(v1alpha1.ConditionModuleFetched, errors.New("connection refused")), no(v1alpha1.ReasonFetchFailed)},
		{"fetched but not proxy-wasm", reached(v1alpha1.ConditionModuleValidated, fmt.Errorf("x: %w", wasm.ErrNotProxyWasm)), yes},
		{"verification failed first: unchanged", reached(v1alpha1.ConditionModuleVerified, verify.ErrSignatureInvalid), absent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ext := previouslyReady()
			setModuleFetched(ext, tc.s)
			checkCond(t, ext, v1alpha1.ConditionModuleFetched, tc.want)
		})
	}
}

func TestSetModuleVerified(t *testing.T) {
	for _, tc := range []struct {
		name string
		ext  *v1alpha1.WasmExtension
		s    *scope
		want condWant
	}{
		{"verified", previouslyReady(), okScope(), yes},
		{"no spec.verify: absent", unverified(), okScope(), absent},
		{"signature invalid", previouslyReady(), reached(v1alpha1.ConditionModuleVerified, fmt.Errorf("x: %w", verify.ErrSignatureInvalid)), no(v1alpha1.ReasonSignatureInvalid)},
		{"registry error while verifying", previouslyReady(), reached(v1alpha1.ConditionModuleVerified, errors.New("EOF")), no(v1alpha1.ReasonVerificationFailed)},
		{"Secret read failed", previouslyReady(), reached(v1alpha1.ConditionModuleVerified, fmt.Errorf("%w k: timeout", errSecretRead)), no(v1alpha1.ReasonSecretUnavailable)},
		{"resolve failed first: unchanged", previouslyReady(), reached(v1alpha1.ConditionModuleFetched, errNotFound), absent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setModuleVerified(tc.ext, tc.s)
			checkCond(t, tc.ext, v1alpha1.ConditionModuleVerified, tc.want)
		})
	}
}

func withDryRun(d *v1alpha1.DryRunStatus) *scope {
	s := okScope()
	s.dryRun = d
	return s
}

func noSandbox() *scope {
	s := withDryRun(nil)
	s.noSandbox = true
	return s
}

func TestSetModuleValidated(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *scope
		want condWant
	}{
		{"valid", okScope(), yes},
		{"dry run skipped", withDryRun(&v1alpha1.DryRunStatus{Skipped: "needs gRPC"}), condWant{metav1.ConditionTrue, v1alpha1.ReasonDryRunSkipped}},
		{"no sandbox: inspected is valid", noSandbox(), yes},
		{"stopped before the dry run: unchanged", withDryRun(nil), absent},
		{"configure failed", reached(v1alpha1.ConditionModuleValidated, fmt.Errorf("x: %w", sandbox.ErrConfigureFailed)), no(v1alpha1.ReasonConfigureFailed)},
		{"trapped", reached(v1alpha1.ConditionModuleValidated, fmt.Errorf("x: %w", sandbox.ErrTrapped)), no(v1alpha1.ReasonModuleTrapped)},
		{"timeout", reached(v1alpha1.ConditionModuleValidated, fmt.Errorf("x: %w", sandbox.ErrTimeout)), no(v1alpha1.ReasonTimeout)},
		{"memory limit", reached(v1alpha1.ConditionModuleValidated, fmt.Errorf("x: %w", sandbox.ErrMemoryLimit)), no(v1alpha1.ReasonMemoryLimit)},
		{"missing import", reached(v1alpha1.ConditionModuleValidated, fmt.Errorf("x: %w", sandbox.ErrMissingImport)), no(v1alpha1.ReasonMissingImport)},
		{"invalid ABI", reached(v1alpha1.ConditionModuleValidated, fmt.Errorf("x: %w", sandbox.ErrInvalidABI)), no(v1alpha1.ReasonInvalidABI)},
		{"not proxy-wasm", reached(v1alpha1.ConditionModuleValidated, fmt.Errorf("x: %w", wasm.ErrNotProxyWasm)), no(v1alpha1.ReasonNotProxyWasm)},
		{"invalid wasm", reached(v1alpha1.ConditionModuleValidated, fmt.Errorf("x: %w", wasm.ErrInvalidWasm)), no(v1alpha1.ReasonInvalidWasm)},
		{"fetch failed first: unchanged", reached(v1alpha1.ConditionModuleFetched, errNotFound), absent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ext := previouslyReady()
			setModuleValidated(ext, tc.s)
			checkCond(t, ext, v1alpha1.ConditionModuleValidated, tc.want)
		})
	}
}

func TestSetRendered(t *testing.T) {
	removed := reached(v1alpha1.ConditionModuleVerified, fmt.Errorf("x: %w", verify.ErrSignatureInvalid))
	removed.revoked, removed.removed = true, true
	for _, tc := range []struct {
		name string
		s    *scope
		want condWant
		msg  string
	}{
		{"applied", okScope(), yes, "Applied WasmPlugin f (output WasmPlugin)"},
		{"apply conflict", reached(v1alpha1.ConditionRendered, errors.New("conflict")), no(v1alpha1.ReasonApplyFailed), "conflict"},
		{"name conflict", reached(v1alpha1.ConditionRendered, fmt.Errorf("x: %w", errNameConflict)), no(v1alpha1.ReasonNameConflict), "x: name conflict"},
		{"removed after revocation", removed, no(v1alpha1.ReasonSignatureInvalid), "Removed WasmPlugin f"},
		{"verify failed first: unchanged", reached(v1alpha1.ConditionModuleVerified, verify.ErrSignatureInvalid), absent, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ext := previouslyReady()
			setRendered(ext, tc.s)
			checkCond(t, ext, v1alpha1.ConditionRendered, tc.want)
			if c := cond(ext, v1alpha1.ConditionRendered); c != nil && !contains(c.Message, tc.msg) {
				t.Errorf("Rendered message %q lacks %q", c.Message, tc.msg)
			}
		})
	}
}
