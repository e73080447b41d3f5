package controllers

import (
	"fmt"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/module"
)

// maxMessage bounds condition messages (errors can quote registry bodies).
const maxMessage = 1024

// setStatus computes the whole status from what the reconcile observed
// (Cluster API's cluster_controller_status.go shape): one pure function per
// condition. A step that ran and passed is True, the failed step is False
// with its Reason, steps not reached keep their last observation. Ready,
// Stalled and Reconciling follow kstatus. status.module and status.rendered
// change only on success, so they always describe what is rendered.
func setStatus(ext *v1alpha1.WasmExtension, s *scope) {
	if s.requested != "" {
		ext.Status.LastHandledReconcileAt = s.requested
	}
	if s.suspended {
		return
	}
	fetchedBefore := meta.IsStatusConditionTrue(ext.Status.Conditions, v1alpha1.ConditionModuleFetched)
	setModuleFetched(ext, s)
	setModuleVerified(ext, s)
	setModuleValidated(ext, s)
	setRendered(ext, s)
	recordConfirmed(ext, s)
	setSummary(ext, s)
	switch {
	case s.failure == nil:
		prev := ext.Status.Module
		ext.Status.Module = moduleStatus(prev, s)
		ext.Status.Module.ConfirmedAt = confirmedAt(prev, s, fetchedBefore)
		ext.Status.Rendered = s.rendered
	case s.removed:
		ext.Status.Rendered = nil
	}
}

// setModuleFetched: False when resolving or pulling failed; True when the
// module's facts are known, or when the bytes were fetched but refused by
// inspection.
func setModuleFetched(ext *v1alpha1.WasmExtension, s *scope) {
	switch {
	case s.failedAt(v1alpha1.ConditionModuleFetched):
		setFalse(ext, v1alpha1.ConditionModuleFetched, s.failure)
	case s.facts != nil:
		setTrue(ext, v1alpha1.ConditionModuleFetched, fetchedMessage(s.facts))
	case s.failedAt(v1alpha1.ConditionModuleValidated):
		setTrue(ext, v1alpha1.ConditionModuleFetched, "Fetched "+s.resolved.Repository+"@"+s.resolved.Digest.String())
	}
}

// setModuleVerified: absent without spec.verify; False when verification
// failed (also when the rendered digest's signature stopped verifying);
// True when a verification covers the resolved digest.
func setModuleVerified(ext *v1alpha1.WasmExtension, s *scope) {
	switch {
	case ext.Spec.Verify == nil:
		meta.RemoveStatusCondition(&ext.Status.Conditions, v1alpha1.ConditionModuleVerified)
	case s.failedAt(v1alpha1.ConditionModuleVerified):
		setFalse(ext, v1alpha1.ConditionModuleVerified, s.failure)
	case s.verified != nil:
		setTrue(ext, v1alpha1.ConditionModuleVerified, fmt.Sprintf("Signature on %s@%s verified by %s",
			s.resolved.Repository, s.resolved.Digest, s.verified.by))
	}
}

// setModuleValidated: False when inspection or the dry run refused the
// module; True when it passed the dry run (Reason DryRunSkipped when
// spec.validation disabled it), or, without a sandbox, when its facts are
// known. A reconcile that stopped before the dry run keeps the condition.
func setModuleValidated(ext *v1alpha1.WasmExtension, s *scope) {
	switch {
	case s.failedAt(v1alpha1.ConditionModuleValidated):
		setFalse(ext, v1alpha1.ConditionModuleValidated, s.failure)
	case s.facts != nil && s.dryRun != nil && s.dryRun.Skipped != "":
		set(ext, v1alpha1.ConditionModuleValidated, metav1.ConditionTrue, v1alpha1.ReasonDryRunSkipped, dryRunMessage(s.facts, s.dryRun))
	case s.facts != nil && s.dryRun != nil:
		setTrue(ext, v1alpha1.ConditionModuleValidated, dryRunMessage(s.facts, s.dryRun))
	case s.facts != nil && s.noSandbox:
		setTrue(ext, v1alpha1.ConditionModuleValidated, fmt.Sprintf("Valid Proxy-Wasm module (%s)", s.facts.ABI))
	}
}

// setRendered: False when rendering or applying failed, or when the
// rendered objects were removed because their module's signature no longer
// verifies; True when every rendered object is applied.
func setRendered(ext *v1alpha1.WasmExtension, s *scope) {
	switch {
	case s.failedAt(v1alpha1.ConditionRendered):
		setFalse(ext, v1alpha1.ConditionRendered, s.failure)
	case s.removed:
		set(ext, v1alpha1.ConditionRendered, metav1.ConditionFalse, s.failure.reason,
			"Removed "+renderedNames(ext.Status.Rendered)+": the signature of the module they served no longer verifies")
	case s.failure == nil && s.rendered != nil:
		setTrue(ext, v1alpha1.ConditionRendered, "Applied "+renderedNames(s.rendered)+" ("+s.why+")"+lossyNote(s.lossy)+mixingNote(s.mixed))
	}
}

// setSummary sets Ready, Stalled and Reconciling (kstatus). A final
// outcome (success, or a failure a person must fix) records
// observedGeneration; a transient failure does not.
func setSummary(ext *v1alpha1.WasmExtension, s *scope) {
	switch {
	case s.failure == nil:
		setTrue(ext, v1alpha1.ConditionReady, fmt.Sprintf("%s serves %s@%s", renderedNames(s.rendered), s.facts.Repository, s.facts.Digest))
		meta.RemoveStatusCondition(&ext.Status.Conditions, v1alpha1.ConditionStalled)
		meta.RemoveStatusCondition(&ext.Status.Conditions, v1alpha1.ConditionReconciling)
		ext.Status.ObservedGeneration = ext.Generation
	case s.failure.stalled:
		msg := failureMessage(ext, s)
		set(ext, v1alpha1.ConditionReady, metav1.ConditionFalse, s.failure.reason, msg)
		set(ext, v1alpha1.ConditionStalled, metav1.ConditionTrue, s.failure.reason, msg)
		meta.RemoveStatusCondition(&ext.Status.Conditions, v1alpha1.ConditionReconciling)
		ext.Status.ObservedGeneration = ext.Generation
	case servesThroughOutage(ext, s):
		// The mesh runs what was asked for: Ready stays True (kstatus
		// Current), ModuleFetched says the registry is away.
		set(ext, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonRegistryUnavailable, outageMessage(ext))
		meta.RemoveStatusCondition(&ext.Status.Conditions, v1alpha1.ConditionStalled)
		meta.RemoveStatusCondition(&ext.Status.Conditions, v1alpha1.ConditionReconciling)
		ext.Status.ObservedGeneration = ext.Generation
	default:
		msg := failureMessage(ext, s) + " (retrying)"
		set(ext, v1alpha1.ConditionReady, metav1.ConditionFalse, s.failure.reason, msg)
		set(ext, v1alpha1.ConditionReconciling, metav1.ConditionTrue, s.failure.reason, msg)
		meta.RemoveStatusCondition(&ext.Status.Conditions, v1alpha1.ConditionStalled)
	}
}

// lossyNote warns that Istio passes pluginConfig through
// google.protobuf.Struct, which keeps numbers as doubles.
func lossyNote(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	return "; warning: pluginConfig numbers at " + strings.Join(paths, ", ") +
		" reach the plugin changed (Istio passes pluginConfig as a google.protobuf.Struct, whose numbers are doubles); write them as strings, or use output EnvoyFilter"
}

func setTrue(ext *v1alpha1.WasmExtension, typ, msg string) {
	set(ext, typ, metav1.ConditionTrue, v1alpha1.ReasonSucceeded, msg)
}

func setFalse(ext *v1alpha1.WasmExtension, typ string, f *failure) {
	set(ext, typ, metav1.ConditionFalse, f.reason, f.err.Error())
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

// failureMessage says what failed and what the mesh runs meanwhile: the
// last good module (last-known-good), a module whose signature no longer
// verifies, or nothing because its objects were removed.
func failureMessage(ext *v1alpha1.WasmExtension, s *scope) string {
	msg := s.failure.err.Error()
	m := ext.Status.Module
	switch {
	case m == nil || len(ext.Status.Rendered) == 0:
	case s.removed:
		msg += fmt.Sprintf("; removed %s, which served %s@%s", renderedNames(ext.Status.Rendered), m.Repository, m.Digest)
	case s.revoked:
		msg += fmt.Sprintf("; %s still serves %s@%s, whose signature no longer verifies", renderedNames(ext.Status.Rendered), m.Repository, m.Digest)
	default:
		msg += fmt.Sprintf("; %s keeps serving the last good module %s@%s", renderedNames(ext.Status.Rendered), m.Repository, m.Digest)
	}
	return msg
}

func renderedNames(objs []v1alpha1.RenderedObject) string {
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		names = append(names, o.Kind+" "+o.Name)
	}
	return strings.Join(names, ", ")
}

// moduleStatus describes the rendered module. A verification that covers
// the same digest by the same key keeps its recorded time, so re-verifying
// after a trust change writes nothing when the signature still verifies.
func moduleStatus(prev *v1alpha1.ModuleStatus, s *scope) *v1alpha1.ModuleStatus {
	f := s.facts
	m := &v1alpha1.ModuleStatus{Repository: f.Repository, Digest: f.Digest, SHA256: f.SHA256,
		Size: f.Size, Format: string(f.Format), ABI: f.ABI, Delivery: s.delivery, URL: s.url, Tag: s.tag, DryRun: s.dryRun}
	if v := s.verified; v != nil {
		m.VerifiedBy, m.VerifiedAt = v.by, v.at.DeepCopy()
		if prev != nil && prev.Digest == f.Digest && prev.VerifiedBy == v.by && prev.VerifiedAt != nil {
			m.VerifiedAt = prev.VerifiedAt.DeepCopy()
		}
	}
	return m
}

func statusEqual(a, b v1alpha1.WasmExtensionStatus) bool { return apiequality.Semantic.DeepEqual(a, b) }

// isInvalid reports API errors no retry can fix (the object is refused).
func isInvalid(err error) bool { return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) }
