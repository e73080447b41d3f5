package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/json"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// writtenStatus is the last status this process wrote for an extension:
// its hash, and the resourceVersion of the object it was computed from.
// A reconcile that starts before the informer has seen that write reads
// the object at the old resourceVersion and computes the same status
// again; without this memory it would patch it a second time (measured:
// one extension in two of a rollout did).
type writtenStatus struct {
	before string
	hash   [sha256.Size]byte
}

func statusHash(s v1alpha1.WasmExtensionStatus) [sha256.Size]byte {
	b, _ := json.Marshal(s) // a struct of plain fields: Marshal does not fail
	return sha256.Sum256(b)
}

// patchStatus writes the status when it differs from what was read, and
// is not what this process already wrote from the same read.
func (r *WasmExtensionReconciler) patchStatus(ctx context.Context, orig, ext *v1alpha1.WasmExtension) error {
	if statusEqual(orig.Status, ext.Status) {
		return nil
	}
	key, h := client.ObjectKeyFromObject(ext), statusHash(ext.Status)
	if w := r.statuses.get(key); w != nil && w.before == orig.ResourceVersion && w.hash == h {
		return nil // the cache has not caught up with this very write yet
	}
	// An extension deleted meanwhile has no status to write.
	if err := r.Status().Patch(ctx, ext, client.MergeFrom(orig)); err != nil {
		return client.IgnoreNotFound(err)
	}
	r.statuses.put(key, writtenStatus{before: orig.ResourceVersion, hash: h})
	return nil
}

// renderedChanged lets through the events on rendered objects that need
// their extension reconciled: a deletion, or an update of the spec or of
// the metadata the operator sets (a hand edit). A creation does not: the
// operator made it, in the reconcile that is writing the status right now
// (a second reconcile then would only race that write), and after a
// restart the extensions' own informer reconciles every extension.
var renderedChanged = predicate.Funcs{
	CreateFunc: func(event.CreateEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld, e.ObjectNew
		return o.GetGeneration() != n.GetGeneration() || !equalStrings(o.GetLabels(), n.GetLabels()) ||
			!equalStrings(o.GetAnnotations(), n.GetAnnotations()) || !ownersEqual(o, n)
	},
}

func equalStrings(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func ownersEqual(a, b client.Object) bool {
	x, y := a.GetOwnerReferences(), b.GetOwnerReferences()
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i].UID != y[i].UID || ptrTrue(x[i].Controller) != ptrTrue(y[i].Controller) ||
			ptrTrue(x[i].BlockOwnerDeletion) != ptrTrue(y[i].BlockOwnerDeletion) {
			return false
		}
	}
	return true
}

func ptrTrue(b *bool) bool { return b != nil && *b }
