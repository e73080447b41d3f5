package cosign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/verify"
)

// Caps on what one Verify reads; everything read is hostile.
const (
	// MaxSignatures caps the bundle referrers and, separately, the
	// simple-signing layers of a .sig manifest that are examined.
	MaxSignatures = 16
	// MaxSignatureSize caps every signature manifest, bundle, payload and
	// referrers index read.
	MaxSignatureSize = 1 << 20
	// maxReferrerPages caps the referrers API pages followed.
	maxReferrerPages = 4
)

// Media types and annotations written by cosign.
const (
	bundleMediaTypePrefix  = "application/vnd.dev.sigstore.bundle" // v0.3 "….v0.3+json", older "…+json;version=0.x"
	simpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	annotationSignature    = "dev.cosignproject.cosign/signature"
	annotationCertificate  = "dev.sigstore.cosign/certificate"
	annotationRekorBundle  = "dev.sigstore.cosign/bundle"
	annotationRFC3161      = "dev.sigstore.cosign/rfc3161timestamp"
	legacyTagSuffix        = ".sig"
)

// errStopReferrers ends the referrers listing once MaxSignatures are found.
var errStopReferrers = errors.New("enough referrers")

// errInvalid wraps verify.ErrSignatureInvalid: the artifact, not the
// network, is at fault.
func errInvalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", verify.ErrSignatureInvalid, fmt.Sprintf(format, args...))
}

// source reads the signature artifacts of one manifest digest.
type source struct {
	repo     *remote.Repository
	name     string // registry/repository, for messages
	digest   digest.Digest
	manifest []byte // the signed manifest, fetched when a message signature needs it
}

func isBundleType(t string) bool { return strings.HasPrefix(t, bundleMediaTypePrefix) }

// referrers lists up to MaxSignatures referrers of the digest that may be
// bundles, with the referrers API or, where the registry lacks it, the
// referrers tag. Besides bundle artifact types it takes referrers listed as
// the empty type: registries that derive artifactType from the config
// (go-containerregistry's, older ones) list cosign's bundles that way, and
// bundleBytes tells from the manifest.
func (s *source) referrers(ctx context.Context) ([]ocispec.Descriptor, error) {
	var out []ocispec.Descriptor
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: s.digest}
	err := s.repo.Referrers(ctx, subject, "", func(page []ocispec.Descriptor) error {
		for _, d := range page {
			if !isBundleType(d.ArtifactType) && d.ArtifactType != "" && d.ArtifactType != ocispec.MediaTypeEmptyJSON {
				continue
			}
			out = append(out, d)
			if len(out) == MaxSignatures {
				return errStopReferrers
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopReferrers) {
		return nil, fetchError(err, "list referrers of "+s.digest.String())
	}
	return out, nil
}

// bundleBytes reads a referrer's manifest and, if it is a bundle artifact,
// its bundle layer; ok is false for other artifacts.
func (s *source) bundleBytes(ctx context.Context, d ocispec.Descriptor) (raw []byte, ok bool, err error) {
	mb, err := s.read(ctx, s.repo.Manifests(), d)
	if err != nil {
		return nil, true, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, true, errInvalid("manifest: %v", err)
	}
	if !isBundleType(m.ArtifactType) && !isBundleType(m.Config.MediaType) {
		return nil, false, nil
	}
	for _, l := range m.Layers {
		if isBundleType(l.MediaType) {
			raw, err := s.read(ctx, s.repo.Blobs(), l)
			return raw, true, err
		}
	}
	return nil, true, errInvalid("manifest has no %s layer", bundleMediaTypePrefix)
}

// legacyManifest reads the sha256-<hex>.sig manifest; found is false when
// the tag does not exist.
func (s *source) legacyManifest(ctx context.Context) (m ocispec.Manifest, tag string, found bool, err error) {
	tag = s.digest.Algorithm().String() + "-" + s.digest.Encoded() + legacyTagSuffix
	desc, rc, err := s.repo.FetchReference(ctx, tag)
	if err != nil {
		if notFound(err) {
			return m, tag, false, nil
		}
		return m, tag, false, fetchError(err, "read tag "+tag)
	}
	defer rc.Close()
	raw, err := readVerified(rc, desc)
	if err != nil {
		return m, tag, true, fetchError(err, "read tag "+tag)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, tag, true, errInvalid("%s: manifest: %v", tag, err)
	}
	return m, tag, true, nil
}

// subjectManifest returns the bytes of the signed manifest itself, checked
// against the digest. Message signatures need them; it is one manifest
// read and never a blob.
func (s *source) subjectManifest(ctx context.Context) ([]byte, error) {
	if s.manifest != nil {
		return s.manifest, nil
	}
	_, rc, err := s.repo.FetchReference(ctx, s.digest.String())
	if err != nil {
		return nil, fetchError(err, "read manifest "+s.digest.String())
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxSignatureSize+1))
	if err != nil {
		return nil, fetchError(err, "read manifest "+s.digest.String())
	}
	if len(b) > MaxSignatureSize || s.digest.Algorithm().FromBytes(b) != s.digest {
		return nil, fmt.Errorf("read manifest %s: %w", s.digest, oci.ErrDigestMismatch)
	}
	s.manifest = b
	return b, nil
}

type fetcher interface {
	Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error)
}

// read fetches d (a manifest or blob) capped at MaxSignatureSize and
// checked against d's size and digest.
func (s *source) read(ctx context.Context, f fetcher, d ocispec.Descriptor) ([]byte, error) {
	if d.Size < 0 || d.Size > MaxSignatureSize {
		return nil, errInvalid("%s is %d bytes, over the %d-byte cap", d.Digest, d.Size, MaxSignatureSize)
	}
	rc, err := f.Fetch(ctx, d)
	if err != nil {
		return nil, fetchError(err, "read "+d.Digest.String())
	}
	defer rc.Close()
	b, err := readVerified(rc, d)
	if err != nil {
		return nil, fetchError(err, "read "+d.Digest.String())
	}
	return b, nil
}

func readVerified(r io.Reader, d ocispec.Descriptor) ([]byte, error) {
	if d.Size < 0 || d.Size > MaxSignatureSize {
		return nil, fmt.Errorf("%d bytes: %w", d.Size, errdef.ErrSizeExceedsLimit)
	}
	return content.ReadAll(io.LimitReader(r, d.Size+1), d)
}

// fetchError classifies a registry failure: content that is too large,
// corrupt or gone makes the signature invalid; 401/403 wraps
// oci.ErrUnauthorized; anything else is transient.
func fetchError(err error, doing string) error {
	var resp *errcode.ErrorResponse
	switch {
	case errors.As(err, &resp) && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden),
		errors.Is(err, auth.ErrBasicCredentialNotFound):
		return fmt.Errorf("%s: %w: %w", doing, oci.ErrUnauthorized, err)
	case notFound(err),
		errors.Is(err, errdef.ErrSizeExceedsLimit),
		errors.Is(err, content.ErrMismatchedDigest),
		errors.Is(err, content.ErrTrailingData):
		return fmt.Errorf("%w: %s: %w", verify.ErrSignatureInvalid, doing, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

func notFound(err error) bool {
	var resp *errcode.ErrorResponse
	return errors.Is(err, errdef.ErrNotFound) || (errors.As(err, &resp) && resp.StatusCode == http.StatusNotFound)
}

// newReader returns a fresh reader over b for each verification attempt.
func newReader(b []byte) io.Reader { return bytes.NewReader(b) }
