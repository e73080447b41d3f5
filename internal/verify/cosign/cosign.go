// Package cosign verifies Sigstore signatures on a module's manifest digest,
// made with cosign (or any Sigstore client) with a key or keyless.
//
// It owns: finding the signatures of a digest in its repository (Sigstore
// bundles attached as OCI 1.1 referrers, and cosign's sha256-<hex>.sig
// tag), reading them under caps (MaxSignatures, MaxSignatureSize), and
// checking them with sigstore-go and sigstore's signature package against
// public keys or a trusted root plus a signer identity.
//
// It must not: read the Wasm layer or any blob other than signature
// artifacts, implement cryptography itself, contact a transparency log or
// TUF repository (the trusted root is given; verification is offline
// apart from the registry), or retry.
package cosign

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/verify"
)

// Verifier verifies cosign signatures with public keys or keyless. It is
// safe for concurrent use.
type Verifier struct {
	fetcher *oci.Fetcher

	keys []publicKey // key mode: any key may match

	keyless  *sgverify.Verifier // keyless mode
	id       Identity
	identity sgverify.CertificateIdentity
}

var _ verify.Verifier = (*Verifier)(nil)

// NewKeyVerifier returns a Verifier that accepts a signature made with any
// of publicKeysPEM (each holds one or more PEM "PUBLIC KEY" blocks: ECDSA
// P-256/384/521, Ed25519, RSA 2048-4096; at most MaxKeys in all). Transparency-log entries in key-signed
// signatures are not checked (no log key is configured), as with cosign
// --insecure-ignore-tlog. Errors wrap verify.ErrInvalidPolicy.
func NewKeyVerifier(fetcher *oci.Fetcher, publicKeysPEM [][]byte) (*Verifier, error) {
	if fetcher == nil {
		return nil, errors.New("cosign: nil fetcher")
	}
	keys, err := parsePublicKeys(publicKeysPEM)
	if err != nil {
		return nil, err
	}
	return &Verifier{fetcher: fetcher, keys: keys}, nil
}

// NewKeylessVerifier returns a Verifier that accepts a signature whose
// certificate chains to trusted and names id, with the log and timestamp
// evidence trusted can vouch for (see keylessVerifier). Errors wrap
// verify.ErrInvalidPolicy.
func NewKeylessVerifier(fetcher *oci.Fetcher, id Identity, trusted root.TrustedMaterial) (*Verifier, error) {
	if fetcher == nil {
		return nil, errors.New("cosign: nil fetcher")
	}
	ci, err := id.certificateIdentity()
	if err != nil {
		return nil, err
	}
	kv, err := keylessVerifier(trusted)
	if err != nil {
		return nil, err
	}
	return &Verifier{fetcher: fetcher, keyless: kv, id: id, identity: ci}, nil
}

// Verify looks for signatures of t.Digest, bundle referrers first and then
// the .sig tag (read only when no bundle verified), and returns as soon as
// one verifies.
func (v *Verifier) Verify(ctx context.Context, t verify.Target) (verify.Result, error) {
	if err := t.Digest.Validate(); err != nil || t.Digest.Algorithm() != digest.SHA256 {
		return verify.Result{}, fmt.Errorf("cosign: target digest %q is not a sha256 digest", t.Digest)
	}
	repo, ref, err := v.fetcher.Repository(t.Request)
	if err != nil {
		return verify.Result{}, err
	}
	repo.MaxMetadataBytes = MaxSignatureSize
	repo.ReferrerListMaxPages = maxReferrerPages
	s := &source{repo: repo, name: ref.RepositoryURL(), digest: t.Digest}
	var o outcome
	if r, ok := v.tryBundles(ctx, s, &o); ok {
		return r, nil
	}
	if r, ok := v.tryLegacy(ctx, s, &o); ok {
		return r, nil
	}
	return verify.Result{}, o.err(s)
}

func (v *Verifier) tryBundles(ctx context.Context, s *source, o *outcome) (verify.Result, bool) {
	descs, err := s.referrers(ctx)
	if err != nil {
		o.add("referrers", err)
		return verify.Result{}, false
	}
	for _, d := range descs {
		where := "referrer " + d.Digest.String()
		raw, ok, err := s.bundleBytes(ctx, d)
		if !ok {
			continue // another kind of artifact
		}
		o.seen++
		if err != nil {
			o.add(where, err)
			continue
		}
		r, err := v.verifyBundle(ctx, s, raw)
		if err == nil {
			return r, true
		}
		o.add(where, err)
	}
	return verify.Result{}, false
}

func (v *Verifier) tryLegacy(ctx context.Context, s *source, o *outcome) (verify.Result, bool) {
	m, tag, found, err := s.legacyManifest(ctx)
	if err != nil {
		o.add("tag "+tag, err)
	}
	if !found || err != nil {
		return verify.Result{}, false
	}
	n := 0
	for i, l := range m.Layers {
		if l.MediaType != simpleSigningMediaType {
			continue
		}
		if n++; n > MaxSignatures {
			break
		}
		o.seen++
		where := fmt.Sprintf("tag %s layer %d", tag, i)
		ss, err := s.readSimpleSignature(ctx, l)
		if err != nil {
			o.add(where, err)
			continue
		}
		r, err := v.verifyLegacy(ss, l, s.digest)
		if err == nil {
			return r, true
		}
		o.add(where, err)
	}
	return verify.Result{}, false
}

// outcome collects why no signature verified.
type outcome struct {
	seen      int      // signatures examined
	transient error    // first failure that may go away on retry
	mismatch  error    // first identity mismatch
	invalid   []string // why each invalid signature failed
}

func (o *outcome) add(where string, err error) {
	switch {
	case errors.Is(err, verify.ErrIdentityMismatch):
		if o.mismatch == nil {
			o.mismatch = err
		}
	case errors.Is(err, verify.ErrSignatureInvalid):
		o.invalid = append(o.invalid, where+": "+strings.TrimPrefix(err.Error(), verify.ErrSignatureInvalid.Error()+": "))
	default:
		if o.transient == nil {
			o.transient = fmt.Errorf("%s: %w", where, err)
		}
	}
}

// err picks the error to report, most actionable first: a transient
// failure (a retry may find a valid signature), an identity mismatch, an
// invalid signature, no signature at all.
func (o *outcome) err(s *source) error {
	at := s.name + "@" + s.digest.String()
	switch {
	case o.transient != nil:
		return fmt.Errorf("verify %s: %w", at, o.transient)
	case o.mismatch != nil:
		return fmt.Errorf("verify %s: %w", at, o.mismatch)
	case len(o.invalid) > 0:
		const maxReasons = 3
		reasons := o.invalid
		if len(reasons) > maxReasons {
			reasons = append(reasons[:maxReasons:maxReasons], fmt.Sprintf("and %d more", len(o.invalid)-maxReasons))
		}
		return fmt.Errorf("verify %s: %w: none of %d signatures verifies: %s", at, verify.ErrSignatureInvalid, o.seen, strings.Join(reasons, "; "))
	}
	return fmt.Errorf("verify %s: %w: no Sigstore bundle referrer and no tag %s-%s%s", at, verify.ErrSignatureMissing,
		s.digest.Algorithm(), s.digest.Encoded(), legacyTagSuffix)
}
