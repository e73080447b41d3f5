package verifytest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// VirtualSigstore is an in-process Sigstore (Fulcio CA, Rekor log,
// timestamp authority) from sigstore-go's testing/ca. It is the trusted
// material keyless verification needs, and it signs as any identity.
//
// Its certificates carry no SCTs, so unlike ca.VirtualSigstore it lists
// no CT logs: a trusted root with CT logs makes verifiers require SCTs.
type VirtualSigstore struct {
	*ca.VirtualSigstore
}

var _ root.TrustedMaterial = (*VirtualSigstore)(nil)

// NewVirtualSigstore creates one with fresh keys.
func NewVirtualSigstore() (*VirtualSigstore, error) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	return &VirtualSigstore{vs}, nil
}

// CTLogs returns none (see VirtualSigstore).
func (vs *VirtualSigstore) CTLogs() map[string]*root.TransparencyLog { return nil }

// TrustedRootJSON returns vs as a trusted_root.json, as a cluster admin
// would put in a Secret.
func (vs *VirtualSigstore) TrustedRootJSON() ([]byte, error) {
	// ca.VirtualSigstore's logs carry their hex log ID as the ID bytes; a
	// trusted root wants the raw key ID (the map key, decoded).
	logs := map[string]*root.TransparencyLog{}
	for id, tl := range vs.RekorLogs() {
		raw, err := hex.DecodeString(id)
		if err != nil {
			return nil, err
		}
		c := *tl
		c.ID = raw
		logs[id] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), vs.CTLogs(),
		vs.TimestampingAuthorities(), logs)
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}

// KeylessBundle returns a bundle (v0.3, DSSE statement over d) signed by
// vs with a certificate for subject (an email SAN) from issuer, with a
// Rekor entry (inclusion proof and promise) and an RFC 3161 timestamp.
func KeylessBundle(d digest.Digest, vs *VirtualSigstore, issuer, subject string) ([]byte, error) {
	te, err := vs.AttestAtTime(subject, issuer, Statement(d), time.Now().Add(time.Minute), true)
	if err != nil {
		return nil, err
	}
	vc, err := te.VerificationContent()
	if err != nil {
		return nil, err
	}
	sc, err := te.SignatureContent()
	if err != nil {
		return nil, err
	}
	env := sc.EnvelopeContent().RawEnvelope()
	pl, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, err
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		return nil, err
	}
	tle, err := vs.logEntry(te, "dsse")
	if err != nil {
		return nil, err
	}
	tss, err := te.Timestamps()
	if err != nil {
		return nil, err
	}
	b := &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:     &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries: []*protorekor.TransparencyLogEntry{tle},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: pl, PayloadType: env.PayloadType, Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}
	if len(tss) > 0 {
		b.VerificationMaterial.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tss[0]}},
		}
	}
	return marshalBundle(b)
}

// SignKeyless signs d in host/repo keyless as subject from issuer and
// attaches the bundle as a referrer.
func SignKeyless(ctx context.Context, host, repo string, d digest.Digest, vs *VirtualSigstore, issuer, subject string) error {
	b, err := KeylessBundle(d, vs, issuer, subject)
	if err != nil {
		return err
	}
	return AttachBundle(ctx, host, repo, d, b)
}

// SignKeylessLegacy signs d keyless as cosign did before bundles: a
// simple-signing layer on the .sig tag with the certificate, chain and
// Rekor bundle (signed entry timestamp) in annotations.
func SignKeylessLegacy(ctx context.Context, host, repo string, d digest.Digest, vs *VirtualSigstore, issuer, subject string) error {
	p := SimpleSigningPayload(host+"/"+repo, d)
	te, err := vs.SignAtTime(subject, issuer, p, time.Now().Add(time.Minute))
	if err != nil {
		return err
	}
	vc, err := te.VerificationContent()
	if err != nil {
		return err
	}
	sc, err := te.SignatureContent()
	if err != nil {
		return err
	}
	tle, err := vs.logEntry(te, "hashedrekord")
	if err != nil {
		return err
	}
	rb, err := json.Marshal(map[string]any{
		"SignedEntryTimestamp": tle.GetInclusionPromise().GetSignedEntryTimestamp(),
		"Payload": map[string]any{
			"body":           base64.StdEncoding.EncodeToString(tle.GetCanonicalizedBody()),
			"integratedTime": tle.GetIntegratedTime(),
			"logIndex":       tle.GetLogIndex(),
			"logID":          hex.EncodeToString(tle.GetLogId().GetKeyId()),
		},
	})
	if err != nil {
		return err
	}
	certPEM, err := cryptoutils.MarshalCertificateToPEM(vc.Certificate())
	if err != nil {
		return err
	}
	fca, ok := vs.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority)
	if !ok {
		return errors.New("verifytest: unexpected certificate authority type")
	}
	chainPEM, err := cryptoutils.MarshalCertificatesToPEM(append(fca.Intermediates, fca.Root))
	if err != nil {
		return err
	}
	return AttachLegacy(ctx, host, repo, d, p, map[string]string{
		AnnotationSignature:   base64.StdEncoding.EncodeToString(sc.Signature()),
		AnnotationCertificate: string(certPEM),
		AnnotationChain:       string(chainPEM),
		AnnotationRekorBundle: string(rb),
	})
}

// logEntry returns te's Rekor v1 entry as a complete protobuf: kind and
// version set and the inclusion promise (signed entry timestamp) signed
// by vs's log, which tlog.Entry keeps but does not export.
func (vs *VirtualSigstore) logEntry(te *ca.TestEntity, kind string) (*protorekor.TransparencyLogEntry, error) {
	entries, err := te.TlogEntries()
	if err != nil || len(entries) == 0 {
		return nil, fmt.Errorf("verifytest: no log entry: %v", err)
	}
	tle, ok := proto.Clone(entries[0].TransparencyLogEntry()).(*protorekor.TransparencyLogEntry)
	if !ok {
		return nil, errors.New("verifytest: unexpected log entry type")
	}
	tle.KindVersion = &protorekor.KindVersion{Kind: kind, Version: "0.0.1"}
	set, err := vs.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(tle.GetCanonicalizedBody()),
		IntegratedTime: tle.GetIntegratedTime(),
		LogIndex:       tle.GetLogIndex(),
		LogID:          hex.EncodeToString(tle.GetLogId().GetKeyId()),
	})
	if err != nil {
		return nil, err
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	return tle, nil
}

func marshalBundle(b *protobundle.Bundle) ([]byte, error) { return protojson.Marshal(b) }
