package controllers

import (
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/module"
)

// maxMessage bounds condition messages (errors can quote registry bodies).
const maxMessage = 1024

// setStatus computes the whole status from what the reconcile observed.
// Steps that ran and passed are True, the failed step is False with its
// Reason, steps after it keep their last observation. Ready, Stalled and
// Reconciling follow kstatus. status.module and status.rendered change only
// on success, so they always describe what is actually rendered.
func setStatus(ext *v1alpha1.WasmExtension, s *scope) {
	gen := ext.Generation
	for _, p := range s.passed {
		set(ext, p.condition, metav1.ConditionTrue, v1alpha1.ReasonSucceeded, p.message)
	}
	if s.failure != nil {
		set(ext, s.failure.condition, metav1.ConditionFalse, s.failure.reason, s.failure.err.Error())
	}
	if ext.Spec.Verify == nil {
		meta.RemoveStatusCondition(&ext.Status.Conditions, v1alpha1.ConditionModuleVerified)
	}
	switch {
	case s.failure == nil:
		ext.Status.Module = moduleStatus(s)
		ext.Status.Rendered = s.rendered
		set(ext, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSucceeded, readyMessage(s))
		meta.RemoveStatusCondition(&ext.Status.Conditions, v1alpha1.ConditionStalled)
		meta.RemoveStatusCondition(&ext.Status.Conditions, v1alpha1.ConditionReconciling)
		ext.Status.ObservedGeneration = gen
	case s.failure.stalled:
		msg := failureMessage(ext, s)
		set(ext, v1alpha1.ConditionReady, metav1.ConditionFalse, s.failure.reason, msg)
		set(ext, v1alpha1.ConditionStalled, metav1.ConditionTrue, s.failure.reason, msg)
		meta.RemoveStatusCondition(&ext.Status.Conditions, v1alpha1.ConditionReconciling)
		ext.Status.ObservedGeneration = gen
	default:
		msg := failureMessage(ext, s) + " (retrying)"
		set(ext, v1alpha1.ConditionReady, metav1.ConditionFalse, s.failure.reason, msg)
		set(ext, v1alpha1.ConditionReconciling, metav1.ConditionTrue, s.failure.reason, msg)
		meta.RemoveStatusCondition(&ext.Status.Conditions, v1alpha1.ConditionStalled)
	}
}

func set(ext *v1alpha1.WasmExtension, typ string, st metav1.ConditionStatus, reason, msg string) {
	if len(msg) > maxMessage {
		msg = msg[:maxMessage-3] + "..."
	}
	meta.SetStatusCondition(&ext.Status.Conditions, metav1.Condition{
		Type: typ, Status: st, Reason: reason, Message: msg, ObservedGeneration: ext.Generation,
	})
}

func fetchedMessage(f *module.Facts) string {
	return fmt.Sprintf("Fetched %s@%s (%s, %d bytes, sha256 %s)", f.Repository, f.Digest, f.Format, f.Size, f.SHA256)
}

func validatedMessage(f *module.Facts) string {
	return fmt.Sprintf("Valid Proxy-Wasm module (%s)", f.ABI)
}

func readyMessage(s *scope) string {
	return fmt.Sprintf("%s serves %s@%s", renderedNames(s.rendered), s.facts.Repository, s.facts.Digest)
}

// failureMessage says what failed and, when an older version is still
// rendered, that it keeps serving (last-known-good).
func failureMessage(ext *v1alpha1.WasmExtension, s *scope) string {
	msg := s.failure.err.Error()
	if m := ext.Status.Module; m != nil && len(ext.Status.Rendered) > 0 {
		msg += fmt.Sprintf("; %s keeps serving the last good module %s@%s",
			renderedNames(ext.Status.Rendered), m.Repository, m.Digest)
	}
	return msg
}

func renderedNames(objs []v1alpha1.RenderedObject) string {
	out := ""
	for i, o := range objs {
		if i > 0 {
			out += ", "
		}
		out += o.Kind + " " + o.Name
	}
	return out
}

func moduleStatus(s *scope) *v1alpha1.ModuleStatus {
	f := s.facts
	m := &v1alpha1.ModuleStatus{Repository: f.Repository, Digest: f.Digest, SHA256: f.SHA256,
		Size: f.Size, Format: string(f.Format), ABI: f.ABI}
	if v := s.verified; v != nil {
		m.VerifiedBy, m.VerifiedAt = v.by, v.at.DeepCopy()
	}
	return m
}

func statusEqual(a, b v1alpha1.WasmExtensionStatus) bool { return apiequality.Semantic.DeepEqual(a, b) }

// isInvalid reports API errors no retry can fix (the object is refused).
func isInvalid(err error) bool { return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) }
