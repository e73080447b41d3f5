package v1alpha1

// ReconcileRequestAnnotation, set on a WasmExtension to a new value (the
// current time, say), asks the operator to reconcile it now: resolve the tag
// again instead of waiting for module.interval. The value handled last is
// recorded in status.lastHandledReconcileAt. It follows Flux's
// reconcile.fluxcd.io/requestedAt convention, so the same tooling habits work.
const ReconcileRequestAnnotation = "reconcile.wasmext.io/requestedAt"
