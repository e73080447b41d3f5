package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/metrics"
	"github.com/wasmext/wasmext/internal/verify"
	"github.com/wasmext/wasmext/internal/verify/cosign"
)

// TrustedRootKey is the data key of a trustedRootSecretRef Secret.
const TrustedRootKey = "trusted_root.json"

// verify checks the signature on the resolved manifest digest, before any
// blob of the module is pulled. It runs again only when needsVerification
// says so: a new digest, a new generation of the spec, a new version of a
// Secret holding the trust material, or after a failure — never on a
// steady-state resync.
func (r *WasmExtensionReconciler) verify(ctx context.Context, s *scope) error {
	if s.ext.Spec.Verify == nil {
		return nil
	}
	trust, err := r.trustVersion(ctx, s.ext)
	if err != nil {
		return r.verifyFailed(ctx, s, err)
	}
	s.trustVersion = trust
	want := verificationKey{digest: s.resolved.Digest.String(), generation: s.ext.Generation, trust: trust}
	objKey := client.ObjectKeyFromObject(s.ext)
	last := r.verifications.get(objKey)
	c := meta.FindStatusCondition(s.ext.Status.Conditions, v1alpha1.ConditionModuleVerified)
	lastFailed := c != nil && c.Status == metav1.ConditionFalse
	needed, why := needsVerification(s.ext.Spec.Verify, last, lastFailed, want)
	if !needed {
		s.verified = last
		return nil
	}
	trustMat, err := r.trustFor(ctx, s.ext)
	if err != nil {
		return r.verifyFailed(ctx, s, err)
	}
	key := verifyCacheKey(s.resolved.Repository, s.resolved.Digest, trustMat)
	res, checked, err := verifyResults.verify(key, func() (verify.Result, error) {
		return checkSignature(ctx, trustMat, verify.Target{Request: s.request, Digest: s.resolved.Digest})
	})
	log.FromContext(ctx).V(1).Info("Verified the module signature", "digest", want.digest, "why", why, "checked", checked, "error", err)
	if err != nil {
		return r.verifyFailed(ctx, s, err)
	}
	v := verified{key: want, by: res.VerifiedBy + " (" + res.Format + ")", at: metav1.NewTime(s.now)}
	r.verifications.put(objKey, v)
	s.verified = &v
	return nil
}

// verifyFailed records a failed verification. When a person must act and
// the digest that failed is the one rendered and verified before (a key was
// removed or rotated away), the rendered objects serve a module whose
// signature no longer verifies: they are kept (last-known-good) unless the
// cluster policy says to remove them.
func (r *WasmExtensionReconciler) verifyFailed(ctx context.Context, s *scope, err error) error {
	err = stepError(v1alpha1.ConditionModuleVerified, err)
	r.verifications.forget(client.ObjectKeyFromObject(s.ext))
	m := s.ext.Status.Module
	if _, stalled := classify(v1alpha1.ConditionModuleVerified, err); !stalled || m == nil || m.VerifiedBy == "" ||
		m.Digest != s.resolved.Digest.String() || len(s.ext.Status.Rendered) == 0 {
		return err
	}
	s.revoked = true
	if !r.Policy.Get().RemoveUnverified {
		return err
	}
	if rmErr := r.prune(ctx, s.ext, nil); rmErr != nil {
		return stepError(v1alpha1.ConditionRendered, rmErr)
	}
	s.removed = true
	return err
}

// trustSecretNames lists the Secrets spec.verify names.
func trustSecretNames(ext *v1alpha1.WasmExtension) []string {
	var names []string
	if v := ext.Spec.Verify; v != nil {
		if ref := v.Cosign.PublicKeySecretRef; ref != nil {
			names = append(names, ref.Name)
		}
		if k := v.Cosign.Keyless; k != nil && k.TrustedRootSecretRef != nil {
			names = append(names, k.TrustedRootSecretRef.Name)
		}
	}
	return names
}

// trustVersion returns the resourceVersions of the Secrets spec.verify
// names, read from the metadata-only cache (no Secret data, no API call).
func (r *WasmExtensionReconciler) trustVersion(ctx context.Context, ext *v1alpha1.WasmExtension) (string, error) {
	var parts []string
	if names := trustSecretNames(ext); len(names) > 0 {
		if err := r.secretAllowed(ext.Namespace); err != nil {
			return "", err
		}
	}
	for _, name := range trustSecretNames(ext) {
		md := &metav1.PartialObjectMetadata{}
		md.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		if err := r.Get(ctx, client.ObjectKey{Namespace: ext.Namespace, Name: name}, md); err != nil {
			return "", secretError(err, ext.Namespace, name)
		}
		parts = append(parts, name+"="+md.ResourceVersion)
	}
	return strings.Join(parts, ","), nil
}

// checkSignature runs one signature check (the registry requests for the
// signature artifacts) and records it in the metrics.
func checkSignature(ctx context.Context, trust trustMaterial, t verify.Target) (verify.Result, error) {
	verifier, err := trust.build()
	if err != nil {
		return verify.Result{}, err
	}
	start := time.Now()
	res, err := verifier.Verify(ctx, t)
	metrics.ObserveVerify(time.Since(start), err)
	return res, err
}

// verifierFor builds the verifier spec.verify asks for, reading its
// Secrets from the extension's own namespace only.
func (r *WasmExtensionReconciler) verifierFor(ctx context.Context, ext *v1alpha1.WasmExtension) (verify.Verifier, error) {
	trust, err := r.trustFor(ctx, ext)
	if err != nil {
		return nil, err
	}
	return trust.build()
}

// trustFor reads the trust material spec.verify names (its Secrets from
// the extension's own namespace only) and identifies it; the verifier is
// built from it only when a check runs.
func (r *WasmExtensionReconciler) trustFor(ctx context.Context, ext *v1alpha1.WasmExtension) (trustMaterial, error) {
	c := ext.Spec.Verify.Cosign
	if ref := c.PublicKeySecretRef; ref != nil {
		secret, err := r.secret(ctx, ext.Namespace, ref.Name)
		if err != nil {
			return trustMaterial{}, err
		}
		keys := cosign.PublicKeysFromData(secret.Data)
		if len(keys) == 0 {
			return trustMaterial{}, fmt.Errorf("%w: Secret %s holds no PEM public key", errVerifyConfig, ref.Name)
		}
		return trustMaterial{id: materialID("key", keys...), build: func() (verify.Verifier, error) {
			return cosign.NewKeyVerifier(r.Fetcher, keys)
		}}, nil
	}
	k := c.Keyless
	if k == nil {
		return trustMaterial{}, fmt.Errorf("%w: spec.verify.cosign names neither keys nor a keyless identity", errVerifyConfig)
	}
	rootID, trusted, err := r.trustedRoot(ctx, ext.Namespace, k.TrustedRootSecretRef)
	if err != nil {
		return trustMaterial{}, err
	}
	id := cosign.Identity{Issuer: k.Issuer, IssuerRegExp: k.IssuerRegExp, Subject: k.Subject, SubjectRegExp: k.SubjectRegExp}
	return trustMaterial{
		id: materialID("keyless", rootID, []byte(id.Issuer), []byte(id.IssuerRegExp), []byte(id.Subject), []byte(id.SubjectRegExp)),
		build: func() (verify.Verifier, error) {
			tm, err := trusted()
			if err != nil {
				return nil, err
			}
			return cosign.NewKeylessVerifier(r.Fetcher, id, tm)
		},
	}, nil
}

// trustedRoot returns what identifies the trusted root (its JSON, or
// "public-good") and how to load it. The public-good root is the one
// fetched through TUF at start-up, the same for every extension.
func (r *WasmExtensionReconciler) trustedRoot(ctx context.Context, ns string, ref *v1alpha1.LocalObjectReference) ([]byte, func() (root.TrustedMaterial, error), error) {
	if ref == nil {
		if r.SigstoreRoot == nil {
			return nil, nil, fmt.Errorf("%w: the public-good Sigstore trusted root is not available to the operator (it is fetched through TUF at start-up); set keyless.trustedRootSecretRef to a Secret with %s", errVerifyConfig, TrustedRootKey)
		}
		if tm := r.SigstoreRoot(); tm != nil {
			return []byte("public-good"), func() (root.TrustedMaterial, error) { return tm, nil }, nil
		}
		return nil, nil, fmt.Errorf("%w: the public-good Sigstore trusted root could not be fetched through TUF; set keyless.trustedRootSecretRef to a Secret with %s", errVerifyConfig, TrustedRootKey)
	}
	secret, err := r.secret(ctx, ns, ref.Name)
	if err != nil {
		return nil, nil, err
	}
	b, ok := secret.Data[TrustedRootKey]
	if !ok {
		return nil, nil, fmt.Errorf("%w: Secret %s has no %s key", errVerifyConfig, ref.Name, TrustedRootKey)
	}
	return b, func() (root.TrustedMaterial, error) { return cosign.TrustedRootFromJSON(b) }, nil
}

// secret reads a Secret of spec.verify uncached (its data is never cached).
func (r *WasmExtensionReconciler) secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	var secret corev1.Secret
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &secret); err != nil {
		return nil, secretError(err, ns, name)
	}
	return &secret, nil
}

// secretError tells a Secret that does not exist (a person must create it)
// from a failed read (retried).
func secretError(err error, ns, name string) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w: Secret %s not found in namespace %s", errVerifyConfig, name, ns)
	}
	return fmt.Errorf("%w %s/%s: %w", errSecretRead, ns, name, err)
}
