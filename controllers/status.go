package controllers

import (
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// stepConditions are the per-step conditions, in pipeline order.
var stepConditions = []string{
	v1alpha1.ConditionModuleFetched,
	v1alpha1.ConditionModuleValidated,
	v1alpha1.ConditionRendered,
}

// maxMessage bounds condition messages (errors can quote registry bodies).
const maxMessage = 1024

// setStatus computes the whole status from what the reconcile observed.
// Steps that ran and passed are True, the failed step is False with its
// Reason, steps after it keep their last observation. Ready, Stalled and
// Reconciling follow kstatus. status.module and status.rendered change only
// on success, so they always describe what is actually rendered.
func setStatus(ext *v1alpha1.WasmExtension, s *scope) {
	gen := ext.Generation
	for _, c := range stepConditions {
		if s.failure != nil && s.failure.condition == c {
			set(ext, c, metav1.ConditionFalse, s.failure.reason, s.failure.err.Error())
			break
		}
		set(ext, c, metav1.ConditionTrue, v1alpha1.ReasonSucceeded, stepMessage(c, s))
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

func stepMessage(cond string, s *scope) string {
	ref := s.resolved.Repository + "@" + s.resolved.Digest.String()
	switch cond {
	case v1alpha1.ConditionModuleFetched:
		if s.facts == nil {
			return "Fetched " + ref
		}
		return fmt.Sprintf("Fetched %s (%s, %d bytes, sha256 %s)", ref, s.facts.Format, s.facts.Size, s.facts.SHA256)
	case v1alpha1.ConditionModuleValidated:
		return fmt.Sprintf("Valid Proxy-Wasm module (%s)", s.facts.ABI)
	default:
		return fmt.Sprintf("Applied %s", renderedNames(s.rendered))
	}
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
	return &v1alpha1.ModuleStatus{Repository: f.Repository, Digest: f.Digest, SHA256: f.SHA256,
		Size: f.Size, Format: string(f.Format), ABI: f.ABI}
}

func statusEqual(a, b v1alpha1.WasmExtensionStatus) bool { return apiequality.Semantic.DeepEqual(a, b) }

// isInvalid reports API errors no retry can fix (the object is refused).
func isInvalid(err error) bool { return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) }
