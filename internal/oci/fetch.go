package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
)

// Fetch reads the manifest d of req.Image's repository (verifying its
// digest), picks the format, and reads only the blob that holds the module,
// capped and verified against its digest. When d is an image index, the
// manifest of its Wasm platform (see wasmPlatforms) is read instead. A tag
// in req.Image is ignored: d says what to read. When d is empty the digest
// of req.Image is used.
func (f *Fetcher) Fetch(ctx context.Context, req Request, d digest.Digest) (*Module, error) {
	ref, err := ParseReference(req.Image)
	if err != nil {
		return nil, err
	}
	if d == "" {
		d = ref.Digest
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("%w: fetch %s: manifest digest %q: %v", ErrInvalidReference, ref.RepositoryURL(), d, err)
	}
	repo := f.repository(ref, req)
	m, err := readImageManifest(ctx, repo, ref.RepositoryURL(), d)
	if err != nil {
		return nil, err
	}
	sel, err := selectFormat(m.mediaType, m.raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.what, err)
	}
	wasm, layout, err := f.readModule(ctx, repo, sel)
	if err != nil {
		return nil, classify(err, fmt.Sprintf("read %s layer %s of %s", sel.Format, sel.Layer.Digest, m.what))
	}
	layout.IndexPlatform, layout.PlatformManifest = m.platform.Platform, m.platform.Manifest.Digest
	sum := sha256.Sum256(wasm)
	return &Module{
		Repository: ref.RepositoryURL(),
		Digest:     d,
		Wasm:       wasm,
		SHA256:     hex.EncodeToString(sum[:]),
		Size:       int64(len(wasm)),
		Format:     sel.Format,
		Layout:     layout,
	}, nil
}

// imageManifest is the manifest that says which blob holds the module.
type imageManifest struct {
	mediaType string
	raw       []byte
	platform  platformChoice // set when it was picked from an index
	what      string         // what it is, for messages
}

// readImageManifest reads manifest d of repository repoURL and, when it is
// an image index, the manifest of its Wasm platform.
func readImageManifest(ctx context.Context, repo *remote.Repository, repoURL string, d digest.Digest) (imageManifest, error) {
	m := imageManifest{what: fmt.Sprintf("manifest %s of %s", d, repoURL)}
	mt, raw, err := readManifest(ctx, repo, d)
	if err != nil {
		return m, classify(err, "read "+m.what)
	}
	choice, indexed, err := selectPlatform(mt, raw)
	if err != nil {
		return m, fmt.Errorf("%s: %w", m.what, err)
	}
	if !indexed {
		m.mediaType, m.raw = mt, raw
		return m, nil
	}
	m.platform = choice
	m.what = fmt.Sprintf("%s manifest %s of index %s of %s", choice.Platform, choice.Manifest.Digest, d, repoURL)
	if m.mediaType, m.raw, err = readManifest(ctx, repo, choice.Manifest.Digest); err != nil {
		return m, classify(err, "read "+m.what)
	}
	return m, nil
}

// readManifest GETs manifest d and returns its media type and bytes,
// capped at MaxManifestSize and verified against d.
func readManifest(ctx context.Context, repo *remote.Repository, d digest.Digest) (string, []byte, error) {
	desc, rc, err := repo.Manifests().FetchReference(ctx, d.String())
	if err != nil {
		return "", nil, err
	}
	defer rc.Close()
	if desc.Size > MaxManifestSize {
		return "", nil, fmt.Errorf("%w: manifest is %d bytes, cap is %d", ErrTooLarge, desc.Size, MaxManifestSize)
	}
	desc.Digest = d // verify against what was asked for, not what the server said
	raw, err := content.ReadAll(io.LimitReader(rc, MaxManifestSize+1), desc)
	if err != nil {
		return "", nil, err
	}
	return desc.MediaType, raw, nil
}

// readModule fetches the selected layer and returns the Wasm bytes and
// how the artifact is laid out.
func (f *Fetcher) readModule(ctx context.Context, repo *remote.Repository, sel selection) ([]byte, Layout, error) {
	l := Layout{LayerMediaTypes: sel.LayerMediaTypes}
	if sel.Layer.Size > f.lim.module {
		return nil, l, fmt.Errorf("%w: layer is %d bytes, cap is %d", ErrTooLarge, sel.Layer.Size, f.lim.module)
	}
	rc, err := repo.Blobs().Fetch(ctx, sel.Layer)
	if err != nil {
		return nil, l, err
	}
	defer rc.Close()
	body := io.LimitReader(rc, f.lim.module+1)
	switch sel.Format {
	case FormatDockerImage, FormatOCIImage:
		b, img, err := readImageLayer(body, sel.Layer, f.lim)
		l.LayerGzip, l.ShadowingEntry = img.LayerGzip, img.ShadowingEntry
		return b, l, err
	default:
		b, err := content.ReadAll(body, sel.Layer)
		return b, l, err
	}
}

// readImageLayer streams an image layer through the digest verifier into
// the tar walker, then drains and verifies the rest. A digest mismatch wins
// over any extraction error: garbage in a tampered layer is not the
// image author's fault.
func readImageLayer(body io.Reader, desc ocispec.Descriptor, lim limits) ([]byte, Layout, error) {
	vr := content.NewVerifyReader(body, desc)
	wasm, l, xerr := extractWithLayout(vr, lim)
	_, derr := io.Copy(io.Discard, vr)
	verr := vr.Verify()
	switch {
	case errors.Is(verr, content.ErrMismatchedDigest), errors.Is(verr, content.ErrTrailingData):
		return nil, l, verr
	case xerr != nil:
		return nil, l, xerr
	case derr != nil:
		return nil, l, derr
	case verr != nil:
		return nil, l, verr
	}
	return wasm, l, nil
}
