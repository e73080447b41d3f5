package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// Event reasons for what the pipeline did (failures use the condition Reason).
const (
	EventFetched  = "Fetched"
	EventRendered = "Rendered"
	// EventSignatureRevoked: the module the rendered objects serve no longer
	// verifies with the extension's trust material (a key was removed).
	EventSignatureRevoked = "SignatureRevoked"
	// EventPluginConfigLossy: Istio will change numbers of pluginConfig.
	EventPluginConfigLossy = "PluginConfigLossy"
	// EventDryRunSkipped: spec.validation disabled the dry run, so the
	// module reaches proxies only inspected.
	EventDryRunSkipped = v1alpha1.ReasonDryRunSkipped
)

// recordEvents emits one Event per thing that happened: a module pulled, an
// object written, or a failure that is new (not repeated on every retry).
func (r *WasmExtensionReconciler) recordEvents(orig, ext *v1alpha1.WasmExtension, s *scope) {
	if r.Recorder == nil {
		return
	}
	// A pull and an apply in one reconcile make one Event (Events are API
	// writes too); the note says both.
	switch {
	case s.fetched && s.applied:
		r.Recorder.Eventf(ext, nil, corev1.EventTypeNormal, EventRendered, "Apply",
			"Fetched %s@%s (%s, %d bytes, %s) and applied %s pinned to it",
			s.facts.Repository, s.facts.Digest, s.facts.Format, s.facts.Size, s.facts.ABI, renderedNames(s.rendered))
	case s.fetched:
		r.Recorder.Eventf(ext, nil, corev1.EventTypeNormal, EventFetched, "Fetch",
			"Fetched %s@%s (%s, %d bytes, %s)", s.facts.Repository, s.facts.Digest, s.facts.Format, s.facts.Size, s.facts.ABI)
	case s.applied:
		r.Recorder.Eventf(ext, nil, corev1.EventTypeNormal, EventRendered, "Apply",
			"Applied %s pinned to %s", renderedNames(s.rendered), s.facts.Digest)
	}
	if s.failure == nil {
		r.warnLossy(orig, ext, s)
		r.warnDryRunSkipped(orig, ext)
		return
	}
	before := meta.FindStatusCondition(orig.Status.Conditions, v1alpha1.ConditionReady)
	now := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady)
	if before == nil || now == nil || before.Reason != now.Reason || before.Message != now.Message {
		reason := s.failure.reason
		if s.revoked {
			reason = EventSignatureRevoked
		}
		r.Recorder.Eventf(ext, nil, corev1.EventTypeWarning, reason, "Reconcile", "%s", now.Message)
	}
}

// warnLossy emits a Warning when the Rendered message newly says that Istio
// will change pluginConfig numbers.
func (r *WasmExtensionReconciler) warnLossy(orig, ext *v1alpha1.WasmExtension, s *scope) {
	before := meta.FindStatusCondition(orig.Status.Conditions, v1alpha1.ConditionRendered)
	now := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionRendered)
	if len(s.lossy) == 0 || now == nil || (before != nil && before.Message == now.Message) {
		return
	}
	r.Recorder.Eventf(ext, nil, corev1.EventTypeWarning, EventPluginConfigLossy, "Render", "%s", lossyNote(s.lossy)[len("; warning: "):])
}

// warnDryRunSkipped emits a Warning when ModuleValidated newly says that
// spec.validation disabled the dry run (or gives another skipReason).
func (r *WasmExtensionReconciler) warnDryRunSkipped(orig, ext *v1alpha1.WasmExtension) {
	before := meta.FindStatusCondition(orig.Status.Conditions, v1alpha1.ConditionModuleValidated)
	now := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionModuleValidated)
	if now == nil || now.Reason != v1alpha1.ReasonDryRunSkipped || (before != nil && before.Message == now.Message) {
		return
	}
	r.Recorder.Eventf(ext, nil, corev1.EventTypeWarning, EventDryRunSkipped, "Validate", "%s", now.Message)
}
