package ocitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/wasmext/wasmext/internal/oci"
)

// PushOption changes how Push and PushManifest push.
type PushOption func(*pushConfig)

type pushConfig struct {
	gzip       bool
	soloConfig bool
	cred       auth.Credential
}

// Gzip sets whether image formats gzip their layers (default true).
func Gzip(on bool) PushOption { return func(c *pushConfig) { c.gzip = on } }

// SoloConfig sets whether the solo format carries solo.io's config media
// type (default true); without it the config is the OCI empty descriptor.
func SoloConfig(on bool) PushOption { return func(c *pushConfig) { c.soloConfig = on } }

// Credential authenticates pushes (see Registry.RequireAuth).
func Credential(cred auth.Credential) PushOption { return func(c *pushConfig) { c.cred = cred } }

// Blob is content with its media type.
type Blob struct {
	MediaType string
	Data      []byte
}

// Manifest describes an image or artifact to push with PushManifest.
type Manifest struct {
	MediaType    string // manifest media type; OCI image manifest when empty
	ArtifactType string // optional
	Config       Blob   // the OCI empty config when MediaType is empty
	Layers       []Blob
}

// Push pushes wasm in format f to host under repoTag ("acme/filter:1.0";
// tag "latest" when omitted) over plain HTTP, and returns the manifest
// digest. Image formats get two layers, the last holding plugin.wasm.
func Push(ctx context.Context, host, repoTag string, f oci.Format, wasm []byte, opts ...PushOption) (digest.Digest, error) {
	m, err := BuildManifest(f, wasm, opts...)
	if err != nil {
		return "", err
	}
	return PushManifest(ctx, host, repoTag, m, opts...)
}

// BuildManifest returns what Push would push for wasm in format f.
func BuildManifest(f oci.Format, wasm []byte, opts ...PushOption) (Manifest, error) {
	cfg := config(opts)
	switch f {
	case oci.FormatCNCF:
		conf := fmt.Sprintf(`{"architecture":"wasm","os":"wasip1","layerDigests":[%q]}`, digest.FromBytes(wasm))
		return artifact(oci.MediaTypeCNCFConfig, []byte(conf), oci.MediaTypeCNCFLayer, wasm), nil
	case oci.FormatWasmToOCI:
		return artifact(oci.MediaTypeWasmToOCIConfig, []byte("{}"), oci.MediaTypeWasmToOCILayer, wasm), nil
	case oci.FormatSolo:
		if cfg.soloConfig {
			conf := `{"type":"envoy_proxy","abiVersions":["v0-097b7f2e4cc1fb490cc1943d0d633655ddd6f8a1"],"rootIds":["filter"]}`
			return artifact(oci.MediaTypeSoloConfig, []byte(conf), oci.MediaTypeSoloLayer, wasm), nil
		}
		return artifact(ocispec.MediaTypeEmptyJSON, []byte("{}"), oci.MediaTypeSoloLayer, wasm), nil
	case oci.FormatDockerImage, oci.FormatOCIImage:
		return image(f, cfg.gzip, File{Name: "plugin.wasm", Data: wasm})
	}
	return Manifest{}, fmt.Errorf("ocitest: unknown format %q", f)
}

func config(opts []PushOption) pushConfig {
	c := pushConfig{gzip: true, soloConfig: true}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func artifact(configType string, conf []byte, layerType string, wasm []byte) Manifest {
	return Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    Blob{MediaType: configType, Data: conf},
		Layers:    []Blob{{MediaType: layerType, Data: wasm}},
	}
}

// PushManifest pushes m's blobs and then m under repoTag, and returns the
// manifest digest.
func PushManifest(ctx context.Context, host, repoTag string, m Manifest, opts ...PushOption) (digest.Digest, error) {
	mediaType, raw, err := pushBlobs(ctx, host, repoTag, m, opts)
	if err != nil {
		return "", err
	}
	return PushRaw(ctx, host, repoTag, mediaType, raw, opts...)
}

// pushBlobs pushes m's config and layers and returns m's media type and
// manifest JSON.
func pushBlobs(ctx context.Context, host, repoTag string, m Manifest, opts []PushOption) (string, []byte, error) {
	m = withDefaults(m)
	for _, b := range append([]Blob{m.Config}, m.Layers...) {
		if _, err := PushBlob(ctx, host, repoTag, b, opts...); err != nil {
			return "", nil, err
		}
	}
	raw, err := ManifestJSON(m)
	return m.MediaType, raw, err
}

// withDefaults fills in an empty manifest media type (OCI) and config (the
// OCI empty descriptor).
func withDefaults(m Manifest) Manifest {
	if m.MediaType == "" {
		m.MediaType = ocispec.MediaTypeImageManifest
		if m.Config.MediaType == "" {
			m.Config = Blob{MediaType: ocispec.MediaTypeEmptyJSON, Data: []byte("{}")}
		}
	}
	return m
}

// ManifestJSON returns the manifest PushManifest pushes for m.
func ManifestJSON(m Manifest) ([]byte, error) {
	m = withDefaults(m)
	desc := func(b Blob) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: b.MediaType, Digest: digest.FromBytes(b.Data), Size: int64(len(b.Data))}
	}
	doc := manifestJSON{SchemaVersion: 2, MediaType: m.MediaType, ArtifactType: m.ArtifactType, Config: desc(m.Config)}
	for _, l := range m.Layers {
		doc.Layers = append(doc.Layers, desc(l))
	}
	return json.Marshal(doc)
}

// IndexEntry is one manifest of an image index.
type IndexEntry struct {
	Platform *ocispec.Platform // nil: the entry has no platform
	Manifest Manifest
}

// PushIndex pushes each entry's manifest by digest, then an image index of
// them (media type mediaType: OCI index or Docker manifest list) under
// repoTag. It returns the index digest and the entries' manifest digests.
func PushIndex(ctx context.Context, host, repoTag, mediaType string, entries []IndexEntry, opts ...PushOption) (digest.Digest, []digest.Digest, error) {
	index := struct {
		SchemaVersion int                  `json:"schemaVersion"`
		MediaType     string               `json:"mediaType"`
		Manifests     []ocispec.Descriptor `json:"manifests"`
	}{SchemaVersion: 2, MediaType: mediaType, Manifests: []ocispec.Descriptor{}}
	var digests []digest.Digest
	for _, e := range entries {
		mt, raw, err := pushBlobs(ctx, host, repoTag, e.Manifest, opts)
		if err != nil {
			return "", nil, err
		}
		desc := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(raw), Size: int64(len(raw)), Platform: e.Platform}
		repo, _ := repository(host, repoTag, opts)
		if err := repo.Manifests().Push(ctx, desc, bytes.NewReader(raw)); err != nil {
			return "", nil, fmt.Errorf("ocitest: push manifest %s to %s: %w", desc.Digest, repoTag, err)
		}
		index.Manifests = append(index.Manifests, desc)
		digests = append(digests, desc.Digest)
	}
	raw, err := json.Marshal(index)
	if err != nil {
		return "", nil, err
	}
	d, err := PushRaw(ctx, host, repoTag, mediaType, raw, opts...)
	return d, digests, err
}

// PushBlob pushes one blob to repoTag's repository and returns its descriptor.
func PushBlob(ctx context.Context, host, repoTag string, b Blob, opts ...PushOption) (ocispec.Descriptor, error) {
	repo, _ := repository(host, repoTag, opts)
	desc := ocispec.Descriptor{MediaType: b.MediaType, Digest: digest.FromBytes(b.Data), Size: int64(len(b.Data))}
	if err := repo.Blobs().Push(ctx, desc, bytes.NewReader(b.Data)); err != nil {
		return desc, fmt.Errorf("ocitest: push blob %s to %s: %w", desc.Digest, repoTag, err)
	}
	return desc, nil
}

// PushRaw pushes manifest bytes as they are (blobs are not checked) under
// repoTag with the given media type, and returns their digest. It is for
// hostile manifests: missing blobs, lying sizes, huge manifests.
func PushRaw(ctx context.Context, host, repoTag, mediaType string, raw []byte, opts ...PushOption) (digest.Digest, error) {
	repo, tag := repository(host, repoTag, opts)
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	if err := repo.PushReference(ctx, desc, bytes.NewReader(raw), tag); err != nil {
		return "", fmt.Errorf("ocitest: push manifest %s: %w", repoTag, err)
	}
	return desc.Digest, nil
}

func repository(host, repoTag string, opts []PushOption) (*remote.Repository, string) {
	name, tag := splitRepoTag(repoTag)
	return &remote.Repository{
		Reference: registry.Reference{Registry: host, Repository: name},
		PlainHTTP: true,
		Client: &auth.Client{
			Client:     http.DefaultClient,
			Credential: auth.StaticCredential(host, config(opts).cred),
		},
		MaxMetadataBytes: 64 << 20, // let tests push oversized manifests
	}, tag
}

// manifestJSON is an OCI or Docker schema2 manifest; both have this shape.
type manifestJSON struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	ArtifactType  string               `json:"artifactType,omitempty"`
	Config        ocispec.Descriptor   `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
}

func splitRepoTag(s string) (repo, tag string) {
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		return s[:i], s[i+1:]
	}
	return s, "latest"
}
