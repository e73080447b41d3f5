package controllers

import (
	"context"
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/policy"
	"github.com/wasmext/wasmext/internal/verify/verifytest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// setKeys replaces the PEM keys of a key Secret.
func setKeys(t *testing.T, ns, name string, pems ...[]byte) {
	t.Helper()
	var s corev1.Secret
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		t.Fatal(err)
	}
	s.Data = map[string][]byte{}
	for i, p := range pems {
		s.Data[fmt.Sprintf("rotated%d.pub", i)] = p
	}
	if err := k8s.Update(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
}

// signedExtension pushes and signs a module, creates an extension verified
// against Secret secret holding the signing key, waits until it is Ready
// and settled, and returns the key.
func signedExtension(t *testing.T, reg *ocitest.Registry, ns, name, secret string, variant int) []byte {
	t.Helper()
	d := pushT(t, reg, "acme/"+name+":v1", oci.FormatCNCF, wasmtest.Variant(variant))
	signer, pub := newKey(t)
	if err := verifytest.SignKeyBundle(context.Background(), reg.Host, "acme/"+name, digest.Digest(d), signer); err != nil {
		t.Fatal(err)
	}
	keySecret(t, ns, secret, pub)
	create(t, keyVerified(ns, name, reg.Ref("acme/"+name+":v1"), secret))
	waitReady(t, ns, name)
	settle(t, ns, name)
	return pub
}

// TestTrustRotation: the key Secret is watched. Adding a key re-verifies
// (the signature is fetched again) and writes nothing while the signature
// still verifies; removing the key that signed the rendered digest turns
// ModuleVerified False at once, Stalled, with a Warning Event, and the
// WasmPlugin keeps serving (last-known-good).
func TestTrustRotation(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	pub := signedExtension(t, reg, ns, "rotated", "keys", 21)
	_, otherPub := newKey(t)
	served, err := getWasmPlugin(ns, "rotated")
	if err != nil {
		t.Fatal(err)
	}

	reg.Reset()
	before := writes.in(ns)
	setKeys(t, ns, "keys", otherPub, pub)
	eventually(t, "signature fetched again after the key rotation", func() error {
		if c := reg.CountsFor("acme/rotated"); c.Total == 0 {
			return fmt.Errorf("no registry request yet")
		}
		return nil
	})
	reconcileNow(t, ns, "rotated")
	if n := writes.in(ns) - before; n != 0 {
		t.Fatalf("re-verifying a still-valid signature made %d writes, want 0", n)
	}

	setKeys(t, ns, "keys", otherPub)
	got := waitCondition(t, ns, "rotated", v1alpha1.ConditionModuleVerified, metav1.ConditionFalse, v1alpha1.ReasonSignatureInvalid)
	waitCondition(t, ns, "rotated", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonSignatureInvalid)
	assertMessageContains(t, got, v1alpha1.ConditionReady, "whose signature no longer verifies")
	wp, err := getWasmPlugin(ns, "rotated")
	if err != nil || wp.Spec.Url != served.Spec.Url {
		t.Fatalf("the rendered WasmPlugin changed: %v, %v; want it kept (last-known-good)", wp, err)
	}
	waitEvent(t, ns, "rotated", corev1.EventTypeWarning, EventSignatureRevoked)
}

// TestTrustRevokedRemoves: under --remove-unverified, removing the key
// deletes the rendered objects and status.rendered says nothing is rendered.
func TestTrustRevokedRemoves(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	withPolicy(t, policy.Policy{RemoveUnverified: true})
	signedExtension(t, reg, ns, "removed", "keys", 22)
	_, otherPub := newKey(t)
	setKeys(t, ns, "keys", otherPub)
	eventually(t, "the WasmPlugin removed", func() error {
		if _, err := getWasmPlugin(ns, "removed"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("WasmPlugin still there: %v", err)
		}
		return nil
	})
	got := waitCondition(t, ns, "removed", v1alpha1.ConditionRendered, metav1.ConditionFalse, v1alpha1.ReasonSignatureInvalid)
	if len(got.Status.Rendered) != 0 {
		t.Fatalf("status.rendered = %+v after removal, want empty", got.Status.Rendered)
	}
	waitEvent(t, ns, "removed", corev1.EventTypeWarning, EventSignatureRevoked)
}

// waitEvent waits for an Event of type typ and reason about extension name.
func waitEvent(t *testing.T, ns, name, typ, reason string) {
	t.Helper()
	eventually(t, typ+" Event "+reason, func() error {
		var list eventsv1.EventList
		if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.Name == name && e.Type == typ && e.Reason == reason {
				return nil
			}
		}
		return fmt.Errorf("%d Events, none %s/%s for %s", len(list.Items), typ, reason, name)
	})
}
