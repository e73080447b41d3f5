package cosign

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/wasmext/wasmext/internal/verify"
)

// PredicateTypeSign is the in-toto predicate type of the DSSE statement
// cosign signs when it attaches an image signature as a bundle. Other
// predicate types (SBOMs, provenance) are attestations, not signatures,
// and do not count.
const PredicateTypeSign = "https://sigstore.dev/cosign/sign/v1"

// verifyBundle verifies one Sigstore bundle for s.digest. A DSSE bundle
// must hold an in-toto statement of type PredicateTypeSign whose subject
// has the digest; a message-signature bundle must sign the manifest bytes.
func (v *Verifier) verifyBundle(ctx context.Context, s *source, raw []byte) (verify.Result, error) {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return verify.Result{}, errInvalid("bundle: %v", err)
	}
	artifact, err := artifactPolicy(ctx, s, &b)
	if err != nil {
		return verify.Result{}, err
	}
	res := verify.Result{Format: verify.FormatBundleReferrer}
	if v.keyless != nil {
		r, err := v.keyless.Verify(&b, sgverify.NewPolicy(artifact(), sgverify.WithCertificateIdentity(v.identity)))
		if err != nil {
			return res, keylessError(err, &b, v.id)
		}
		res.Method, res.VerifiedBy = verify.MethodCosignKeyless, keylessBy(r.Signature.Certificate)
		return res, checkStatement(r)
	}
	var first error
	for _, k := range v.keys {
		for _, kv := range k.bundle {
			r, err := kv.Verify(&b, sgverify.NewPolicy(artifact(), sgverify.WithKey()))
			if err == nil {
				res.Method, res.VerifiedBy = verify.MethodCosignKey, "key "+k.fingerprint
				return res, checkStatement(r)
			}
			if first == nil {
				first = err
			}
		}
	}
	return res, errInvalid("no configured key verifies the bundle: %v", first)
}

// artifactPolicy says what the bundle must cover: the digest for a DSSE
// statement, the manifest bytes for a message signature (sigstore-go
// cannot check Ed25519 or non-SHA-256 message signatures from a digest).
func artifactPolicy(ctx context.Context, s *source, b *bundle.Bundle) (func() sgverify.ArtifactPolicyOption, error) {
	sum, err := hex.DecodeString(s.digest.Encoded())
	if err != nil {
		return nil, err
	}
	if b.GetDsseEnvelope() != nil {
		return func() sgverify.ArtifactPolicyOption { return sgverify.WithArtifactDigest("sha256", sum) }, nil
	}
	if ms := b.GetMessageSignature(); ms.GetMessageDigest().GetAlgorithm() == protocommon.HashAlgorithm_SHA2_256 &&
		!bytes.Equal(ms.GetMessageDigest().GetDigest(), sum) {
		// Unauthenticated, but enough to say why without reading more.
		return nil, errInvalid("bundle signs sha256:%x, not %s", ms.GetMessageDigest().GetDigest(), s.digest)
	}
	m, err := s.subjectManifest(ctx)
	if err != nil {
		return nil, err
	}
	return func() sgverify.ArtifactPolicyOption { return sgverify.WithArtifact(newReader(m)) }, nil
}

// checkStatement rejects DSSE bundles that are attestations rather than
// signatures.
func checkStatement(r *sgverify.VerificationResult) error {
	if r.Statement == nil {
		return nil // message signature
	}
	if t := r.Statement.GetPredicateType(); t != PredicateTypeSign {
		return errInvalid("bundle is an attestation of predicate type %q, not a signature (%s)", t, PredicateTypeSign)
	}
	return nil
}

// keylessError classifies a keyless failure: an identity mismatch (the
// signature itself verified) or an invalid signature.
func keylessError(err error, e sgverify.SignedEntity, want Identity) error {
	if ierr := identityError(err, leafCertificate(e), want); errors.Is(ierr, verify.ErrIdentityMismatch) {
		return ierr
	}
	return fmt.Errorf("%w: %w", verify.ErrSignatureInvalid, err)
}
