package controllers

import (
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/policy"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// withPolicy puts p in force for the rest of the test.
func withPolicy(t *testing.T, p policy.Policy) {
	t.Helper()
	reconciler.Policy.Set(p)
	t.Cleanup(func() { reconciler.Policy.Set(policy.Policy{}) })
}

// TestPolicyRefusesBeforeContact: a registry outside --allowed-registries
// is refused with PolicyViolation and never receives a single request; an
// unsigned extension is refused under --require-signature.
func TestPolicyRefusesBeforeContact(t *testing.T) {
	allowed := ocitest.NewRegistry(t)
	forbidden := ocitest.NewRegistry(t)
	ns := namespace(t)
	pushT(t, allowed, "acme/ok:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	pushT(t, forbidden, "acme/bad:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	forbidden.Reset()
	withPolicy(t, policy.Policy{AllowedRegistries: []string{allowed.Host + "/acme"}})

	create(t, newExtension(ns, "forbidden", forbidden.Ref("acme/bad:v1")))
	got := waitCondition(t, ns, "forbidden", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonPolicyViolation)
	assertMessageContains(t, got, v1alpha1.ConditionReady, "--allowed-registries")
	create(t, newExtension(ns, "allowed", allowed.Ref("acme/ok:v1")))
	waitReady(t, ns, "allowed")
	if c := forbidden.Counts(); c.Total != 0 {
		t.Fatalf("the refused registry received %d requests (%+v), want 0", c.Total, c)
	}
	if _, err := getWasmPlugin(ns, "forbidden"); !apierrors.IsNotFound(err) {
		t.Fatalf("a refused extension was rendered: %v", err)
	}

	withPolicy(t, policy.Policy{RequireSignature: true})
	create(t, newExtension(ns, "unsigned", allowed.Ref("acme/ok:v1")))
	got = waitCondition(t, ns, "unsigned", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonPolicyViolation)
	assertMessageContains(t, got, v1alpha1.ConditionReady, "spec.verify")
}

// TestDigestPin: module.digest accepts only that digest.
func TestDigestPin(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	d1 := pushT(t, reg, "acme/pinned:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	d2 := pushT(t, reg, "acme/pinned:v2", oci.FormatCNCF, wasmtest.ProxyWasmV2)

	good := newExtension(ns, "pinned", reg.Ref("acme/pinned:v1"))
	good.Spec.Module.Digest = d1
	create(t, good)
	if got := waitReady(t, ns, "pinned"); got.Status.Module.Digest != d1 {
		t.Fatalf("digest %s, want %s", got.Status.Module.Digest, d1)
	}

	bad := newExtension(ns, "moved", reg.Ref("acme/pinned:v2"))
	bad.Spec.Module.Digest = d1
	create(t, bad)
	got := waitCondition(t, ns, "moved", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonPinnedDigestMismatch)
	assertMessageContains(t, got, v1alpha1.ConditionReady, d2)
	if c := reg.CountsFor("acme/pinned"); c.BlobGET != 1 {
		t.Fatalf("blob GETs = %d, want 1 (only the pinned module, never the refused one)", c.BlobGET)
	}
}
