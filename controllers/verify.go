package controllers

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"

	"github.com/sigstore/sigstore-go/pkg/root"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/verify"
	"github.com/wasmext/wasmext/internal/verify/cosign"
)

// TrustedRootKey is the data key of a trustedRootSecretRef Secret.
const TrustedRootKey = "trusted_root.json"

// errVerifyConfig marks a spec.verify whose Secrets are missing or unusable.
var errVerifyConfig = errors.New("verification configuration")

// verify checks the signature on the resolved manifest digest, before any
// blob of the module is pulled. It runs again only when it matters: a new
// digest, a new generation of the spec, or after a failure — never on a
// steady-state resync.
func (r *WasmExtensionReconciler) verify(ctx context.Context, s *scope) error {
	if s.ext.Spec.Verify == nil {
		return nil
	}
	if v := alreadyVerified(s); v != nil {
		s.verified = v
		s.pass(v1alpha1.ConditionModuleVerified, verifiedMessage(s, v.by))
		return nil
	}
	verifier, err := r.verifierFor(ctx, s.ext)
	if err != nil {
		return stepError(v1alpha1.ConditionModuleVerified, err)
	}
	res, err := verifier.Verify(ctx, verify.Target{Request: s.request, Digest: s.resolved.Digest})
	if err != nil {
		return stepError(v1alpha1.ConditionModuleVerified, err)
	}
	s.verified = &verification{by: res.VerifiedBy + " (" + res.Format + ")", at: metav1.Now()}
	s.pass(v1alpha1.ConditionModuleVerified, verifiedMessage(s, s.verified.by))
	return nil
}

// alreadyVerified returns the recorded verification when status shows this
// exact digest verified for the current generation.
func alreadyVerified(s *scope) *verification {
	m := s.ext.Status.Module
	c := meta.FindStatusCondition(s.ext.Status.Conditions, v1alpha1.ConditionModuleVerified)
	if m == nil || m.VerifiedBy == "" || m.VerifiedAt == nil || c == nil ||
		c.Status != metav1.ConditionTrue || c.ObservedGeneration != s.ext.Generation ||
		m.Repository != s.resolved.Repository || m.Digest != s.resolved.Digest.String() {
		return nil
	}
	return &verification{by: m.VerifiedBy, at: *m.VerifiedAt}
}

func verifiedMessage(s *scope, by string) string {
	return fmt.Sprintf("Signature on %s@%s verified by %s", s.resolved.Repository, s.resolved.Digest, by)
}

// verifierFor builds the verifier spec.verify asks for, reading its
// Secrets from the extension's own namespace only.
func (r *WasmExtensionReconciler) verifierFor(ctx context.Context, ext *v1alpha1.WasmExtension) (verify.Verifier, error) {
	c := ext.Spec.Verify.Cosign
	if ref := c.PublicKeySecretRef; ref != nil {
		secret, err := r.secret(ctx, ext.Namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		keys := publicKeys(secret)
		if len(keys) == 0 {
			return nil, fmt.Errorf("%w: Secret %s holds no PEM public key", errVerifyConfig, ref.Name)
		}
		return cosign.NewKeyVerifier(r.Fetcher, keys)
	}
	k := c.Keyless
	if k == nil {
		return nil, fmt.Errorf("%w: spec.verify.cosign names neither keys nor a keyless identity", errVerifyConfig)
	}
	trusted, err := r.trustedRoot(ctx, ext.Namespace, k.TrustedRootSecretRef)
	if err != nil {
		return nil, err
	}
	id := cosign.Identity{Issuer: k.Issuer, IssuerRegExp: k.IssuerRegExp, Subject: k.Subject, SubjectRegExp: k.SubjectRegExp}
	return cosign.NewKeylessVerifier(r.Fetcher, id, trusted)
}

func (r *WasmExtensionReconciler) trustedRoot(ctx context.Context, ns string, ref *v1alpha1.LocalObjectReference) (root.TrustedMaterial, error) {
	if ref == nil {
		if r.SigstoreRoot == nil {
			return nil, fmt.Errorf("%w: the public-good Sigstore trusted root is not available to the operator (it is fetched through TUF at start-up); set keyless.trustedRootSecretRef to a Secret with %s", errVerifyConfig, TrustedRootKey)
		}
		if tm := r.SigstoreRoot(); tm != nil {
			return tm, nil
		}
		return nil, fmt.Errorf("%w: the public-good Sigstore trusted root could not be fetched through TUF; set keyless.trustedRootSecretRef to a Secret with %s", errVerifyConfig, TrustedRootKey)
	}
	secret, err := r.secret(ctx, ns, ref.Name)
	if err != nil {
		return nil, err
	}
	b, ok := secret.Data[TrustedRootKey]
	if !ok {
		return nil, fmt.Errorf("%w: Secret %s has no %s key", errVerifyConfig, ref.Name, TrustedRootKey)
	}
	return cosign.TrustedRootFromJSON(b)
}

func (r *WasmExtensionReconciler) secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	var secret corev1.Secret
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: Secret %s not found in namespace %s", errVerifyConfig, name, ns)
		}
		return nil, err
	}
	return &secret, nil
}

// publicKeys returns the PEM public keys among the Secret's values, in key
// order.
func publicKeys(s *corev1.Secret) [][]byte {
	names := make([]string, 0, len(s.Data))
	for k := range s.Data {
		names = append(names, k)
	}
	sort.Strings(names)
	var keys [][]byte
	for _, k := range names {
		if b, _ := pem.Decode(s.Data[k]); b != nil && b.Type == "PUBLIC KEY" {
			keys = append(keys, s.Data[k])
		}
	}
	return keys
}
