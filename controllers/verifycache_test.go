package controllers

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/verify"
	"github.com/wasmext/wasmext/internal/verify/verifytest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// TestVerifyCacheOnePerDigest: 8 extensions over 2 signed modules make
// exactly 2 signature checks (one referrers lookup per module, as many as
// one extension alone makes), and no more blob GETs per repository than a
// module with a single extension. Rotating the key Secret re-verifies, again
// once per module.
func TestVerifyCacheOnePerDigest(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	signer, pub := newKey(t)
	keySecret(t, ns, "keys", pub)
	repos := []string{"acme/shared-a", "acme/shared-b", "acme/solo"}
	for i, repo := range repos {
		d := pushT(t, reg, repo+":v1", oci.FormatCNCF, wasmtest.Variant(31+i))
		if err := verifytest.SignKeyBundle(context.Background(), reg.Host, repo, digest.Digest(d), signer); err != nil {
			t.Fatal(err)
		}
	}
	reg.Reset()
	names := map[string]string{"solo": "acme/solo"}
	for i := range 8 {
		names[fmt.Sprintf("shared-%d", i)] = repos[i%2]
	}
	for name, repo := range names {
		create(t, keyVerified(ns, name, reg.Ref(repo+":v1"), "keys"))
	}
	for name := range names {
		waitReady(t, ns, name)
	}
	solo := reg.CountsFor("acme/solo")
	if solo.Other == 0 || solo.BlobGET == 0 {
		t.Fatalf("solo counts %+v: want a referrers lookup and blob GETs (the counter counts)", solo)
	}
	for _, repo := range repos[:2] {
		c := reg.CountsFor(repo)
		if c.Other != solo.Other || c.BlobGET != solo.BlobGET {
			t.Fatalf("%s with 4 extensions: %+v; want the referrers lookups and blob GETs of one extension %+v", repo, c, solo)
		}
	}

	reg.Reset()
	_, otherPub := newKey(t)
	setKeys(t, ns, "keys", otherPub, pub)
	want := trustAfter(t, ns, "keys")
	eventually(t, "every extension verified against the rotated keys", func() error {
		for name := range names {
			v := reconciler.verifications.get(client.ObjectKey{Namespace: ns, Name: name})
			if v == nil || v.key.trust != want {
				return fmt.Errorf("%s verified with %+v, want trust %s", name, v, want)
			}
		}
		return nil
	})
	for _, repo := range repos {
		if c := reg.CountsFor(repo); c.Other != solo.Other {
			t.Fatalf("%s after the rotation: %+v; want %d referrers lookups (one check per module)", repo, c, solo.Other)
		}
	}
}

// trustAfter returns the trust version verify records for Secret name.
func trustAfter(t *testing.T, ns, name string) string {
	t.Helper()
	var s corev1.Secret
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		t.Fatal(err)
	}
	return name + "=" + s.ResourceVersion
}

// TestVerifyCacheKeepsOnlySuccesses: a passed check is reused for its key
// only; a failed one is not kept; the key changes with every part of the
// trust material and with the digest.
func TestVerifyCacheKeepsOnlySuccesses(t *testing.T) {
	var c verifyCache
	checks := 0
	pass := func() (verify.Result, error) { checks++; return verify.Result{VerifiedBy: "key"}, nil }
	fail := func() (verify.Result, error) { checks++; return verify.Result{}, verify.ErrSignatureInvalid }
	d := digest.FromString("module")
	keys := trustMaterial{id: materialID("key", []byte("a"))}
	k := verifyCacheKey("reg/acme/m", d, keys)

	if _, _, err := c.verify(k, fail); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("failed check returned %v", err)
	}
	for range 3 {
		if res, _, err := c.verify(k, pass); err != nil || res.VerifiedBy != "key" {
			t.Fatalf("verify = %+v, %v", res, err)
		}
	}
	if checks != 2 {
		t.Fatalf("%d checks, want 2 (the failure is not kept, the success is)", checks)
	}
	others := []string{
		verifyCacheKey("reg/acme/m", digest.FromString("other"), keys),
		verifyCacheKey("reg/acme/other", d, keys),
		verifyCacheKey("reg/acme/m", d, trustMaterial{id: materialID("key", []byte("a"), []byte("b"))}),
		verifyCacheKey("reg/acme/m", d, trustMaterial{id: materialID("key", []byte("ab"))}),
		verifyCacheKey("reg/acme/m", d, trustMaterial{id: materialID("keyless", []byte("a"))}),
	}
	for _, o := range others {
		if _, checked, _ := c.verify(o, pass); !checked {
			t.Fatalf("key %s reused the result of %s", o, k)
		}
	}
}
