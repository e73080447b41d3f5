package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/verify/verifytest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

func keySecret(t *testing.T, ns, name string, pems ...[]byte) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for i, p := range pems {
		s.Data[fmt.Sprintf("key%d.pub", i)] = p
	}
	create(t, s)
}

func newKey(t *testing.T) (verifytest.Signer, []byte) {
	t.Helper()
	k, pub, err := verifytest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k, pub
}

func keyVerified(ns, name, image, secret string) *v1alpha1.WasmExtension {
	ext := newExtension(ns, name, image)
	ext.Spec.Verify = &v1alpha1.Verification{Cosign: v1alpha1.CosignVerification{
		PublicKeySecretRef: &v1alpha1.LocalObjectReference{Name: secret}}}
	return ext
}

// TestVerifyKey signs real artifacts in a real registry during the test:
// a valid signature (bundle referrer and legacy tag) is Ready with the key
// fingerprint in status; no signature, or one by another key, is Stalled
// and renders nothing; a tag re-pointed to an unsigned digest leaves the
// previous WasmPlugin untouched; a steady-state reconcile fetches no
// signature.
func TestVerifyKey(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	ctx := context.Background()
	trusted, pub := newKey(t)
	other, otherPub := newKey(t)
	keySecret(t, ns, "cosign-pub", otherPub, pub) // any key may match

	d := pushT(t, reg, "acme/signed:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	if err := verifytest.SignKeyBundle(ctx, reg.Host, "acme/signed", digest.Digest(d), trusted); err != nil {
		t.Fatal(err)
	}
	create(t, keyVerified(ns, "signed", reg.Ref("acme/signed:v1"), "cosign-pub"))
	got := waitReady(t, ns, "signed")
	waitCondition(t, ns, "signed", v1alpha1.ConditionModuleVerified, metav1.ConditionTrue, v1alpha1.ReasonSucceeded)
	if m := got.Status.Module; !strings.Contains(m.VerifiedBy, "key") || m.VerifiedAt == nil {
		t.Fatalf("status.module = %+v, want verifiedBy naming the key and verifiedAt", m)
	}

	dl := pushT(t, reg, "acme/legacy:v1", oci.FormatCNCF, wasmtest.Variant(11))
	if err := verifytest.SignKeyLegacy(ctx, reg.Host, "acme/legacy", digest.Digest(dl), trusted); err != nil {
		t.Fatal(err)
	}
	create(t, keyVerified(ns, "legacy", reg.Ref("acme/legacy:v1"), "cosign-pub"))
	waitReady(t, ns, "legacy")

	// Steady state: no signature is fetched again.
	reg.Reset()
	for range 3 {
		if _, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "signed"}}); err != nil {
			t.Fatal(err)
		}
	}
	if c := reg.CountsFor("acme/signed"); c.Total != 0 {
		t.Fatalf("steady-state registry traffic %+v, want none (no resolve within the interval, no signature fetch)", c)
	}

	pushT(t, reg, "acme/unsigned:v1", oci.FormatCNCF, wasmtest.Variant(12))
	create(t, keyVerified(ns, "unsigned", reg.Ref("acme/unsigned:v1"), "cosign-pub"))
	waitCondition(t, ns, "unsigned", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonSignatureMissing)
	if _, err := getWasmPlugin(ns, "unsigned"); !apierrors.IsNotFound(err) {
		t.Fatalf("an unsigned module was rendered: %v", err)
	}

	dw := pushT(t, reg, "acme/wrongkey:v1", oci.FormatCNCF, wasmtest.Variant(13))
	stranger, _ := newKey(t)
	if err := verifytest.SignKeyBundle(ctx, reg.Host, "acme/wrongkey", digest.Digest(dw), stranger); err != nil {
		t.Fatal(err)
	}
	create(t, keyVerified(ns, "wrongkey", reg.Ref("acme/wrongkey:v1"), "cosign-pub"))
	waitCondition(t, ns, "wrongkey", v1alpha1.ConditionModuleVerified, metav1.ConditionFalse, v1alpha1.ReasonSignatureInvalid)
	_ = other

}

// TestVerifyKeyLastKnownGood: a verified tag re-pointed to an unsigned
// digest leaves the verified WasmPlugin as it was, and the unsigned
// module's bytes are never pulled.
func TestVerifyKeyLastKnownGood(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	ctx := context.Background()
	trusted, pub := newKey(t)
	keySecret(t, ns, "cosign-pub", pub)
	d := pushT(t, reg, "acme/signed:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	if err := verifytest.SignKeyBundle(ctx, reg.Host, "acme/signed", digest.Digest(d), trusted); err != nil {
		t.Fatal(err)
	}
	create(t, keyVerified(ns, "signed", reg.Ref("acme/signed:v1"), "cosign-pub"))
	waitReady(t, ns, "signed")
	good, err := getWasmPlugin(ns, "signed")
	if err != nil {
		t.Fatal(err)
	}
	ext := getExt(t, ns, "signed")
	ext.Spec.Module.Interval = &metav1.Duration{Duration: time.Minute}
	if err := k8s.Update(ctx, ext); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ns, "signed") // generation 2 re-verified (a spec change)
	reg.Reset()
	pushT(t, reg, "acme/signed:v1", oci.FormatCNCF, wasmtest.ProxyWasmV2)
	requestReconcile(t, ns, "signed")
	waitCondition(t, ns, "signed", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonSignatureMissing)
	wp, err := getWasmPlugin(ns, "signed")
	if err != nil {
		t.Fatal(err)
	}
	if wp.Spec.Url != good.Spec.Url || getExt(t, ns, "signed").Status.Module.Digest != d {
		t.Fatalf("WasmPlugin url %s changed; want the verified %s", wp.Spec.Url, good.Spec.Url)
	}
	if c := reg.CountsFor("acme/signed"); c.BlobGET != 0 {
		t.Fatalf("the unsigned module's bytes were pulled (%d blob GETs) before verification", c.BlobGET)
	}
}

// TestVerifyKeyless signs with a test Sigstore (virtual CA and
// transparency log) built in the test; its trusted_root.json is given to
// the extension through trustedRootSecretRef.
func TestVerifyKeyless(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	ctx := context.Background()
	vs, err := verifytest.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	rootJSON, err := vs.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sigstore-root"},
		Data: map[string][]byte{TrustedRootKey: rootJSON}})
	const issuer, subject = "https://token.ci.example.com", "https://ci.example.com/acme/filter/.ci/release@refs/heads/main"
	d := pushT(t, reg, "acme/keyless:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	if err := verifytest.SignKeyless(ctx, reg.Host, "acme/keyless", digest.Digest(d), vs, issuer, subject); err != nil {
		t.Fatal(err)
	}
	keyless := func(name string, k v1alpha1.KeylessVerification) *v1alpha1.WasmExtension {
		k.TrustedRootSecretRef = &v1alpha1.LocalObjectReference{Name: "sigstore-root"}
		ext := newExtension(ns, name, reg.Ref("acme/keyless:v1"))
		ext.Spec.Verify = &v1alpha1.Verification{Cosign: v1alpha1.CosignVerification{Keyless: &k}}
		return ext
	}
	create(t, keyless("exact", v1alpha1.KeylessVerification{Issuer: issuer, Subject: subject}))
	got := waitReady(t, ns, "exact")
	if by := got.Status.Module.VerifiedBy; !strings.Contains(by, issuer) || !strings.Contains(by, subject) {
		t.Fatalf("verifiedBy = %q, want the issuer and subject", by)
	}
	create(t, keyless("regexp", v1alpha1.KeylessVerification{Issuer: issuer, SubjectRegExp: `^https://ci\.example\.com/acme/.*@refs/heads/main$`}))
	waitReady(t, ns, "regexp")
	create(t, keyless("wrong-subject", v1alpha1.KeylessVerification{Issuer: issuer, Subject: "someone@example.com"}))
	got = waitCondition(t, ns, "wrong-subject", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonIdentityMismatch)
	assertMessageContains(t, got, v1alpha1.ConditionModuleVerified, "someone@example.com")
	noRoot := keyless("no-root", v1alpha1.KeylessVerification{Issuer: issuer, Subject: subject})
	noRoot.Spec.Verify.Cosign.Keyless.TrustedRootSecretRef = nil
	create(t, noRoot)
	waitCondition(t, ns, "no-root", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonVerificationConfigInvalid)
}
