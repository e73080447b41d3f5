// Package verifytest signs modules in a test registry the way cosign does,
// for the tests of internal/verify, the controller's envtest suite and
// benchmarks: Sigstore bundles attached as OCI 1.1 referrers and cosign's
// legacy sha256-<hex>.sig simple-signing tag, with a generated key or
// keyless through an in-process VirtualSigstore.
//
// It owns: generating keys, building and pushing signature artifacts. It
// must not be imported by production code; it signs with sigstore-go and
// sigstore's signature package and implements no cryptography itself.
package verifytest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// Media types, annotations and the statement type cosign uses.
const (
	BundleMediaType        = "application/vnd.dev.sigstore.bundle.v0.3+json"
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	InTotoPayloadType      = "application/vnd.in-toto+json"
	PredicateTypeSign      = "https://sigstore.dev/cosign/sign/v1"

	AnnotationSignature   = "dev.cosignproject.cosign/signature"
	AnnotationCertificate = "dev.sigstore.cosign/certificate"
	AnnotationChain       = "dev.sigstore.cosign/chain"
	AnnotationRekorBundle = "dev.sigstore.cosign/bundle"
)

// KeyType selects the algorithm of a generated key.
type KeyType int

// Key types NewKeyOf accepts.
const (
	ECDSAP256 KeyType = iota
	ECDSAP384
	Ed25519
	RSA2048
)

// Signer signs with a generated key (sigstore-go's ephemeral key pair).
type Signer = sign.Keypair

// NewKey generates an ECDSA P-256 key (cosign's default) and returns it
// with its PEM "PUBLIC KEY".
func NewKey() (Signer, []byte, error) { return NewKeyOf(ECDSAP256) }

// NewKeyOf generates a key of type kt.
func NewKeyOf(kt KeyType) (Signer, []byte, error) {
	alg := map[KeyType]protocommon.PublicKeyDetails{
		ECDSAP256: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
		ECDSAP384: protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384,
		Ed25519:   protocommon.PublicKeyDetails_PKIX_ED25519,
		RSA2048:   protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256,
	}[kt]
	if alg == protocommon.PublicKeyDetails_PUBLIC_KEY_DETAILS_UNSPECIFIED {
		return nil, nil, fmt.Errorf("verifytest: unknown key type %d", kt)
	}
	kp, err := sign.NewEphemeralKeypair(&sign.EphemeralKeypairOptions{Algorithm: alg})
	if err != nil {
		return nil, nil, err
	}
	pub, err := kp.GetPublicKeyPem()
	if err != nil {
		return nil, nil, err
	}
	return kp, []byte(pub), nil
}

// Statement returns the in-toto statement cosign signs for an image: subject
// d, predicate type PredicateTypeSign.
func Statement(d digest.Digest) []byte {
	return fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"","digest":{%q:%q}}],"predicateType":%q,"predicate":{}}`,
		d.Algorithm().String(), d.Encoded(), PredicateTypeSign)
}

// SimpleSigningPayload returns cosign's simple-signing payload for d.
func SimpleSigningPayload(repoURL string, d digest.Digest) []byte {
	b, _ := json.Marshal(payload.SimpleContainerImage{Critical: payload.Critical{
		Identity: payload.Identity{DockerReference: repoURL},
		Image:    payload.Image{DockerManifestDigest: d.String()},
		Type:     payload.CosignSignatureType,
	}})
	return b
}

// KeyBundle returns a Sigstore bundle (JSON) signed with k whose DSSE
// statement covers d, as `cosign sign --key` writes in the bundle format.
// It has no transparency log entry.
func KeyBundle(d digest.Digest, k Signer) ([]byte, error) {
	return KeyDSSEBundle(Statement(d), k)
}

// KeyDSSEBundle returns a bundle signed with k whose DSSE envelope holds
// statement as it is (for attestations of other predicate types).
func KeyDSSEBundle(statement []byte, k Signer) ([]byte, error) {
	return keyBundle(&sign.DSSEData{Data: statement, PayloadType: InTotoPayloadType}, k)
}

// KeyMessageBundle returns a bundle signed with k whose message signature
// covers manifest (the bytes whose digest is the image digest).
func KeyMessageBundle(manifest []byte, k Signer) ([]byte, error) {
	return keyBundle(&sign.PlainData{Data: manifest}, k)
}

func keyBundle(c sign.Content, k Signer) ([]byte, error) {
	b, err := sign.Bundle(c, k, sign.BundleOptions{})
	if err != nil {
		return nil, err
	}
	return marshalBundle(b)
}

// SignKeyBundle signs the manifest digest d in host/repo with k and
// attaches the bundle as a referrer.
func SignKeyBundle(ctx context.Context, host, repo string, d digest.Digest, k Signer) error {
	b, err := KeyBundle(d, k)
	if err != nil {
		return err
	}
	return AttachBundle(ctx, host, repo, d, b)
}

// SignKeyMessageBundle is SignKeyBundle with a message-signature bundle
// over the manifest bytes.
func SignKeyMessageBundle(ctx context.Context, host, repo string, d digest.Digest, k Signer) error {
	m, err := FetchManifest(ctx, host, repo, d)
	if err != nil {
		return err
	}
	b, err := KeyMessageBundle(m, k)
	if err != nil {
		return err
	}
	return AttachBundle(ctx, host, repo, d, b)
}

// SignKeyLegacy signs d with k as `cosign sign --key` did before bundles:
// a simple-signing layer on the sha256-<hex>.sig tag (appended when the
// tag exists).
func SignKeyLegacy(ctx context.Context, host, repo string, d digest.Digest, k Signer) error {
	p := SimpleSigningPayload(host+"/"+repo, d)
	sig, _, err := k.SignData(ctx, p)
	if err != nil {
		return err
	}
	return AttachLegacy(ctx, host, repo, d, p, map[string]string{AnnotationSignature: base64.StdEncoding.EncodeToString(sig)})
}

// AttachBundle pushes bundle as a referrer of subject (an existing
// manifest), in the layout of cosign's bundle specification.
func AttachBundle(ctx context.Context, host, repo string, subject digest.Digest, bundle []byte) error {
	r := repository(host, repo)
	subj, err := r.Resolve(ctx, subject.String())
	if err != nil {
		return fmt.Errorf("verifytest: resolve %s: %w", subject, err)
	}
	layer, err := oras.PushBytes(ctx, r, BundleMediaType, bundle)
	if err != nil {
		return fmt.Errorf("verifytest: push bundle: %w", err)
	}
	_, err = oras.PackManifest(ctx, r, oras.PackManifestVersion1_1, BundleMediaType, oras.PackManifestOptions{
		Subject: &subj,
		Layers:  []ocispec.Descriptor{layer},
	})
	if err != nil {
		return fmt.Errorf("verifytest: push bundle manifest: %w", err)
	}
	return nil
}

// AttachLegacy adds a simple-signing layer holding p with annotations to
// subject's sha256-<hex>.sig manifest, creating it if needed.
func AttachLegacy(ctx context.Context, host, repo string, subject digest.Digest, p []byte, annotations map[string]string) error {
	r := repository(host, repo)
	tag := subject.Algorithm().String() + "-" + subject.Encoded() + ".sig"
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
	}
	if _, rc, err := r.FetchReference(ctx, tag); err == nil {
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
	} else if !errors.Is(err, errdef.ErrNotFound) {
		return fmt.Errorf("verifytest: read %s: %w", tag, err)
	}
	if m.Config.Digest == "" {
		conf, err := oras.PushBytes(ctx, r, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}`))
		if err != nil {
			return err
		}
		m.Config = conf
	}
	layer, err := oras.PushBytes(ctx, r, SimpleSigningMediaType, p)
	if err != nil {
		return err
	}
	layer.Annotations = annotations
	m.Layers = append(m.Layers, layer)
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	if err := r.PushReference(ctx, desc, bytes.NewReader(raw), tag); err != nil {
		return fmt.Errorf("verifytest: push %s: %w", tag, err)
	}
	return nil
}

// FetchManifest returns the bytes of manifest d in host/repo.
func FetchManifest(ctx context.Context, host, repo string, d digest.Digest) ([]byte, error) {
	r := repository(host, repo)
	desc, rc, err := r.FetchReference(ctx, d.String())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return content.ReadAll(rc, desc)
}

// repository returns host/repo over plain HTTP (the ocitest registry).
func repository(host, repo string) *remote.Repository {
	return &remote.Repository{
		Reference: registry.Reference{Registry: host, Repository: repo},
		PlainHTTP: true,
		Client:    &auth.Client{Client: http.DefaultClient},
	}
}
