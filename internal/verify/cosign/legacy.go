package cosign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/wasmext/wasmext/internal/verify"
)

// simpleSignature is one layer of a cosign .sig manifest: a simple-signing
// payload and its signature (keyless evidence is read into legacyEntity).
type simpleSignature struct {
	payload []byte
	sig     []byte
}

// readSimpleSignature reads layer l of a .sig manifest.
func (s *source) readSimpleSignature(ctx context.Context, l ocispec.Descriptor) (*simpleSignature, error) {
	sig, err := base64.StdEncoding.DecodeString(l.Annotations[annotationSignature])
	if err != nil || len(sig) == 0 {
		return nil, errInvalid("layer %s has no valid %s annotation", l.Digest, annotationSignature)
	}
	p, err := s.read(ctx, s.repo.Blobs(), l)
	if err != nil {
		return nil, err
	}
	return &simpleSignature{payload: p, sig: sig}, nil
}

// checkPayload checks that a simple-signing payload names digest d. The
// payload is not yet authenticated: this only rules out signatures that
// are for something else before any crypto runs.
func checkPayload(p []byte, d digest.Digest) error {
	var sci payload.SimpleContainerImage
	if err := json.Unmarshal(p, &sci); err != nil {
		return errInvalid("simple-signing payload: %v", err)
	}
	if sci.Critical.Type != payload.CosignSignatureType {
		return errInvalid("simple-signing payload has type %q, want %q", sci.Critical.Type, payload.CosignSignatureType)
	}
	if got := sci.Critical.Image.DockerManifestDigest; got != d.String() {
		return errInvalid("signature is for %s, not %s", got, d)
	}
	return nil
}

// verifyLegacy verifies one simple signature for digest d.
func (v *Verifier) verifyLegacy(ss *simpleSignature, l ocispec.Descriptor, d digest.Digest) (verify.Result, error) {
	res := verify.Result{Format: verify.FormatCosignTag}
	if err := checkPayload(ss.payload, d); err != nil {
		return res, err
	}
	if v.keyless != nil {
		e, err := keylessEntity(ss, l)
		if err != nil {
			return res, err
		}
		r, err := v.keyless.Verify(e, sgverify.NewPolicy(sgverify.WithArtifact(bytes.NewReader(ss.payload)), sgverify.WithCertificateIdentity(v.identity)))
		if err != nil {
			return res, keylessError(err, e, v.id)
		}
		res.Method, res.VerifiedBy = verify.MethodCosignKeyless, keylessBy(r.Signature.Certificate)
		return res, nil
	}
	var first error
	for _, k := range v.keys {
		for _, sv := range k.sig {
			err := sv.VerifySignature(bytes.NewReader(ss.sig), bytes.NewReader(ss.payload))
			if err == nil {
				res.Method, res.VerifiedBy = verify.MethodCosignKey, "key "+k.fingerprint
				return res, nil
			}
			if first == nil {
				first = err
			}
		}
	}
	return res, errInvalid("no configured key verifies the signature: %v", first)
}

// keylessEntity turns a keyless simple signature into a sigstore-go
// SignedEntity so that sigstore-go does all the checking: certificate
// chain to the trusted root at the observed time, the log entry's signed
// timestamp and its match with the signature and certificate, RFC 3161
// timestamps, and the identity. The chain annotation is not used: the
// intermediates come from the trusted root.
func keylessEntity(ss *simpleSignature, l ocispec.Descriptor) (*legacyEntity, error) {
	certPEM := l.Annotations[annotationCertificate]
	if certPEM == "" {
		return nil, errInvalid("signature carries no certificate (%s); is it a key signature?", annotationCertificate)
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(certPEM))
	if err != nil || len(certs) == 0 {
		return nil, errInvalid("certificate annotation: %v", err)
	}
	sum := sha256.Sum256(ss.payload)
	e := &legacyEntity{
		cert: certs[0],
		sig:  bundle.NewMessageSignature(sum[:], "SHA2_256", ss.sig),
	}
	if raw := l.Annotations[annotationRekorBundle]; raw != "" {
		entry, err := parseRekorBundle([]byte(raw))
		if err != nil {
			return nil, errInvalid("%s annotation: %v", annotationRekorBundle, err)
		}
		e.tlog = []*tlog.Entry{entry}
	}
	if raw := l.Annotations[annotationRFC3161]; raw != "" {
		var ts struct{ SignedRFC3161Timestamp []byte }
		if err := json.Unmarshal([]byte(raw), &ts); err != nil || len(ts.SignedRFC3161Timestamp) == 0 {
			return nil, errInvalid("%s annotation: %v", annotationRFC3161, err)
		}
		e.timestamps = [][]byte{ts.SignedRFC3161Timestamp}
	}
	return e, nil
}

// rekorBundle is cosign's dev.sigstore.cosign/bundle annotation: a Rekor v1
// entry with its signed entry timestamp (the log's inclusion promise).
type rekorBundle struct {
	SignedEntryTimestamp []byte
	Payload              struct {
		Body           string `json:"body"` // base64 of the canonical entry
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"` // hex
	}
}

func parseRekorBundle(raw []byte) (*tlog.Entry, error) {
	var rb rekorBundle
	if err := json.Unmarshal(raw, &rb); err != nil {
		return nil, err
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("logID: %w", err)
	}
	var kv struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kv); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	if len(rb.SignedEntryTimestamp) == 0 {
		return nil, errors.New("no SignedEntryTimestamp")
	}
	return tlog.ParseTransparencyLogEntry(&protorekor.TransparencyLogEntry{
		LogIndex:          rb.Payload.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion},
		IntegratedTime:    rb.Payload.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
		CanonicalizedBody: body,
	})
}

// legacyEntity is a keyless simple signature as a sigstore-go SignedEntity.
type legacyEntity struct {
	cert       *x509.Certificate
	sig        *bundle.MessageSignature
	tlog       []*tlog.Entry
	timestamps [][]byte
}

var _ sgverify.SignedEntity = (*legacyEntity)(nil)

func (e *legacyEntity) VerificationContent() (sgverify.VerificationContent, error) {
	return bundle.NewCertificate(e.cert), nil
}
func (e *legacyEntity) SignatureContent() (sgverify.SignatureContent, error) { return e.sig, nil }
func (e *legacyEntity) TlogEntries() ([]*tlog.Entry, error)                  { return e.tlog, nil }
func (e *legacyEntity) Timestamps() ([][]byte, error)                        { return e.timestamps, nil }
func (e *legacyEntity) HasInclusionPromise() bool                            { return len(e.tlog) > 0 }
func (e *legacyEntity) HasInclusionProof() bool                              { return false }

// Version is the bundle version whose rules the entity follows: v0.1, the
// one that accepts a log's inclusion promise without an inclusion proof.
func (e *legacyEntity) Version() (string, error) { return "v0.1", nil }
