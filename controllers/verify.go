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
	"k8s.io/apimachinery/pkg/types"
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
	secrets, err := r.trustSecrets(ctx, s.ext)
	if err != nil {
		return r.verifyFailed(ctx, s, err)
	}
	s.trustVersion = secrets.String()
	want := verificationKey{digest: s.resolved.Digest.String(), generation: s.ext.Generation, trust: s.trustVersion}
	objKey := client.ObjectKeyFromObject(s.ext)
	last := r.verifications.get(objKey)
	c := meta.FindStatusCondition(s.ext.Status.Conditions, v1alpha1.ConditionModuleVerified)
	lastFailed := c != nil && c.Status == metav1.ConditionFalse
	needed, why := needsVerification(s.ext.Spec.Verify, last, lastFailed, want)
	if !needed {
		s.verified = last
		return nil
	}
	trustMat, err := r.trustFor(ctx, s.ext, secrets)
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

// trustSecret is one Secret spec.verify names, as the metadata-only cache
// last saw it.
type trustSecret struct {
	name            string
	uid             types.UID
	resourceVersion string
}

// trustSecretList is the Secrets spec.verify names, in trustSecretNames order.
type trustSecretList []trustSecret

// String is the trust version verifications are recorded under:
// name=resourceVersion for each Secret (pure).
func (l trustSecretList) String() string {
	parts := make([]string, len(l))
	for i, s := range l {
		parts[i] = s.name + "=" + s.resourceVersion
	}
	return strings.Join(parts, ",")
}

// of returns the version of Secret name (the zero version, which matches
// no kept part and so is read, if the list does not hold it).
func (l trustSecretList) of(name string) trustSecret {
	for _, s := range l {
		if s.name == name {
			return s
		}
	}
	return trustSecret{name: name}
}

// trustSecrets returns the UIDs and resourceVersions of the Secrets
// spec.verify names, read from the metadata-only cache (no Secret data, no
// API call).
func (r *WasmExtensionReconciler) trustSecrets(ctx context.Context, ext *v1alpha1.WasmExtension) (trustSecretList, error) {
	names := trustSecretNames(ext)
	if len(names) > 0 {
		if err := r.secretAllowed(ext.Namespace); err != nil {
			return nil, err
		}
	}
	list := make(trustSecretList, 0, len(names))
	for _, name := range names {
		md := &metav1.PartialObjectMetadata{}
		md.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		if err := r.Get(ctx, client.ObjectKey{Namespace: ext.Namespace, Name: name}, md); err != nil {
			return nil, secretError(err, ext.Namespace, name)
		}
		list = append(list, trustSecret{name: name, uid: md.UID, resourceVersion: md.ResourceVersion})
	}
	return list, nil
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
// Secrets from the extension's own namespace only, and uncached: a module
// verified again before it is served (a refill) trusts the Secrets as they
// are now, not as the metadata watch last saw them (no list names their
// versions, so no kept part is taken).
func (r *WasmExtensionReconciler) verifierFor(ctx context.Context, ext *v1alpha1.WasmExtension) (verify.Verifier, error) {
	if len(trustSecretNames(ext)) > 0 {
		if err := r.secretAllowed(ext.Namespace); err != nil {
			return nil, err
		}
	}
	trust, err := r.trustFor(ctx, ext, nil)
	if err != nil {
		return nil, err
	}
	return trust.build()
}

// trustFor identifies the trust material spec.verify names, from the
// versions of its Secrets (in the extension's own namespace only), reading
// a Secret only when no kept part covers its version; the verifier is
// built from it only when a check runs.
func (r *WasmExtensionReconciler) trustFor(ctx context.Context, ext *v1alpha1.WasmExtension, secrets trustSecretList) (trustMaterial, error) {
	c := ext.Spec.Verify.Cosign
	if ref := c.PublicKeySecretRef; ref != nil {
		part, err := r.trustPartOf(ctx, ext.Namespace, secrets.of(ref.Name), "keys", keysPart)
		if err != nil {
			return trustMaterial{}, err
		}
		return trustMaterial{id: part.id, build: func() (verify.Verifier, error) {
			return cosign.NewKeyVerifier(r.Fetcher, part.keys)
		}}, nil
	}
	k := c.Keyless
	if k == nil {
		return trustMaterial{}, fmt.Errorf("%w: spec.verify.cosign names neither keys nor a keyless identity", errVerifyConfig)
	}
	rootID, trusted, err := r.trustedRoot(ctx, ext.Namespace, k.TrustedRootSecretRef, secrets)
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

// trustedRoot returns what identifies the trusted root (a hash of its
// JSON, or "public-good") and how to load it. The public-good root is the
// one fetched through TUF at start-up, the same for every extension.
func (r *WasmExtensionReconciler) trustedRoot(ctx context.Context, ns string, ref *v1alpha1.LocalObjectReference, secrets trustSecretList) ([]byte, func() (root.TrustedMaterial, error), error) {
	if ref == nil {
		if r.SigstoreRoot == nil {
			return nil, nil, fmt.Errorf("%w: the public-good Sigstore trusted root is not available to the operator (it is fetched through TUF at start-up); set keyless.trustedRootSecretRef to a Secret with %s", errVerifyConfig, TrustedRootKey)
		}
		if tm := r.SigstoreRoot(); tm != nil {
			return []byte("public-good"), func() (root.TrustedMaterial, error) { return tm, nil }, nil
		}
		return nil, nil, fmt.Errorf("%w: the public-good Sigstore trusted root could not be fetched through TUF; set keyless.trustedRootSecretRef to a Secret with %s", errVerifyConfig, TrustedRootKey)
	}
	part, err := r.trustPartOf(ctx, ns, secrets.of(ref.Name), "root", rootPart)
	if err != nil {
		return nil, nil, err
	}
	return []byte(part.id), func() (root.TrustedMaterial, error) { return cosign.TrustedRootFromJSON(part.root) }, nil
}

// trustPartOf returns the part of kind that Secret version s holds, kept or
// read uncached (its data is never in the informer cache).
func (r *WasmExtensionReconciler) trustPartOf(ctx context.Context, ns string, s trustSecret, kind string, parse func(*corev1.Secret) trustPart) (trustPart, error) {
	part, err := trustParts.get(kind, ns, s, func() (*corev1.Secret, error) {
		var secret corev1.Secret
		if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: s.name}, &secret); err != nil {
			return nil, secretError(err, ns, s.name)
		}
		return &secret, nil
	}, parse)
	if err != nil {
		return trustPart{}, err
	}
	return part, part.err
}

// keysPart picks the PEM public keys out of a key Secret (pure).
func keysPart(s *corev1.Secret) trustPart {
	keys := cosign.PublicKeysFromData(s.Data)
	if len(keys) == 0 {
		return trustPart{err: fmt.Errorf("%w: Secret %s holds no PEM public key", errVerifyConfig, s.Name)}
	}
	return trustPart{keys: keys, id: materialID("key", keys...)}
}

// rootPart takes the trusted root JSON out of a trustedRootSecretRef
// Secret (pure).
func rootPart(s *corev1.Secret) trustPart {
	b, ok := s.Data[TrustedRootKey]
	if !ok {
		return trustPart{err: fmt.Errorf("%w: Secret %s has no %s key", errVerifyConfig, s.Name, TrustedRootKey)}
	}
	return trustPart{root: b, id: materialID("root", b)}
}

// secretError tells a Secret that does not exist (a person must create it)
// from a failed read (retried).
func secretError(err error, ns, name string) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w: Secret %s not found in namespace %s", errVerifyConfig, name, ns)
	}
	return fmt.Errorf("%w %s/%s: %w", errSecretRead, ns, name, err)
}
