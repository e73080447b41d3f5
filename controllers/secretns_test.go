package controllers

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// TestSecretNamespaces: with --secret-namespaces the operator reads Secrets
// only there (PolicyViolation elsewhere) and caches Secret metadata only
// from there.
func TestSecretNamespaces(t *testing.T) {
	r := &WasmExtensionReconciler{SecretNamespaces: []string{"tenant-a", "tenant-b"}}
	if err := r.secretAllowed("tenant-b"); err != nil {
		t.Fatalf("listed namespace refused: %v", err)
	}
	err := r.secretAllowed("shop")
	if reason, stalled := classify(v1alpha1.ConditionModuleFetched, err); !errors.Is(err, errSecretNamespace) || !stalled || reason != v1alpha1.ReasonPolicyViolation {
		t.Fatalf("unlisted namespace: %v (%s, stalled %v), want PolicyViolation", err, reason, stalled)
	}
	if err := (&WasmExtensionReconciler{}).secretAllowed("shop"); err != nil {
		t.Fatalf("no list allows every namespace: %v", err)
	}
	opts := CacheOptions(Served{}, r.SecretNamespaces)
	for obj, by := range opts.ByObject {
		if _, ok := obj.(*corev1.Secret); ok {
			if len(by.Namespaces) != 2 {
				t.Fatalf("Secret cache namespaces = %v, want tenant-a and tenant-b", by.Namespaces)
			}
			return
		}
	}
	t.Fatalf("no Secret cache restriction in %v", opts.ByObject)
}
