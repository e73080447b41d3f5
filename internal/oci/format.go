package oci

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Format names a way of packaging a Wasm module in an OCI registry.
type Format string

// Supported formats.
const (
	// FormatCNCF: config application/vnd.wasm.config.v0+json, one layer application/wasm.
	FormatCNCF Format = "cncf"
	// FormatWasmToOCI: one layer application/vnd.wasm.content.layer.v1+wasm.
	FormatWasmToOCI Format = "wasm-to-oci"
	// FormatSolo: one layer application/vnd.module.wasm.content.layer.v1+wasm,
	// with or without solo.io's config application/vnd.module.wasm.config.v1+json.
	FormatSolo Format = "solo"
	// FormatDockerImage: Docker v2 schema2 image; its last tar or tar+gzip
	// layer holds plugin.wasm.
	FormatDockerImage Format = "docker-image"
	// FormatOCIImage: OCI image manifest with tar or tar+gzip layers; the
	// last layer holds plugin.wasm.
	FormatOCIImage Format = "oci-image"
)

// Media types of the Wasm formats, exported for ocitest and for messages.
const (
	MediaTypeCNCFConfig      = "application/vnd.wasm.config.v0+json"
	MediaTypeCNCFLayer       = "application/wasm"
	MediaTypeWasmToOCIConfig = "application/vnd.wasm.config.v1+json"
	MediaTypeWasmToOCILayer  = "application/vnd.wasm.content.layer.v1+wasm"
	MediaTypeSoloConfig      = "application/vnd.module.wasm.config.v1+json"
	MediaTypeSoloLayer       = "application/vnd.module.wasm.content.layer.v1+wasm"

	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar"
)

// supportedFormats is appended to every ErrUnsupportedFormat message.
const supportedFormats = "supported: CNCF (application/wasm layer), wasm-to-oci, solo.io, Docker/OCI image with plugin.wasm in the last layer"

// wasmLayerFormats maps a single-layer artifact's layer media type to its format.
var wasmLayerFormats = map[string]Format{
	MediaTypeCNCFLayer:      FormatCNCF,
	MediaTypeWasmToOCILayer: FormatWasmToOCI,
	MediaTypeSoloLayer:      FormatSolo,
}

// imageLayerTypes are the layer media types whose content is tar or tar+gzip.
var imageLayerTypes = []string{
	ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip,
	ocispec.MediaTypeImageLayerNonDistributable, ocispec.MediaTypeImageLayerNonDistributableGzip, //nolint:staticcheck // still seen in the wild
	MediaTypeDockerLayer, MediaTypeDockerLayerGzip,
}

// manifest is the part of an OCI or Docker schema2 manifest this package reads.
type manifest struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	ArtifactType  string               `json:"artifactType"`
	Config        ocispec.Descriptor   `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     json.RawMessage      `json:"manifests"`
}

// selection is what selectFormat picked: the format and the one blob to read.
type selection struct {
	Format Format
	Layer  ocispec.Descriptor
	// LayerMediaTypes are the media types of all the manifest's layers.
	LayerMediaTypes []string
}

// selectFormat decides which format a manifest is in and which layer holds
// the module. contentType is the media type the registry reported for the
// manifest; the manifest's own mediaType field wins when set. It is a pure
// function over bytes; errors wrap ErrUnsupportedFormat.
func selectFormat(contentType string, raw []byte) (selection, error) {
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return selection{}, fmt.Errorf("%w: not valid JSON: %v", ErrUnsupportedFormat, err)
	}
	mt := m.MediaType
	if mt == "" {
		mt = contentType
	}
	if isIndex(mt) || len(m.Manifests) > 0 {
		return selection{}, fmt.Errorf("%w: it is an image index (%s); reference one platform's manifest by digest instead; %s", ErrUnsupportedFormat, mt, supportedFormats)
	}
	if m.SchemaVersion != 2 {
		return selection{}, fmt.Errorf("%w: schemaVersion is %d, want 2; %s", ErrUnsupportedFormat, m.SchemaVersion, supportedFormats)
	}
	sel, ok, err := selectWasmLayer(mt, m)
	if !ok && err == nil {
		sel, ok = selectImageLayer(mt, m)
	}
	if err != nil {
		return selection{}, err
	}
	if ok {
		for _, l := range m.Layers {
			sel.LayerMediaTypes = append(sel.LayerMediaTypes, l.MediaType)
		}
		return sel, checkDescriptor(sel.Layer)
	}
	return selection{}, fmt.Errorf("%w: media types %s are not a Wasm artifact; %s", ErrUnsupportedFormat, describe(mt, m), supportedFormats)
}

func isIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

// checkDescriptor refuses a layer descriptor that could not be fetched safely.
func checkDescriptor(l ocispec.Descriptor) error {
	if err := l.Digest.Validate(); err != nil {
		return fmt.Errorf("%w: layer %s has an invalid digest: %v", ErrUnsupportedFormat, l.MediaType, err)
	}
	if l.Size < 0 {
		return fmt.Errorf("%w: layer %s has a negative size %d", ErrUnsupportedFormat, l.Digest, l.Size)
	}
	return nil
}

// selectWasmLayer picks a single-layer Wasm artifact (CNCF, wasm-to-oci,
// solo). ok is false when no layer has a Wasm media type.
func selectWasmLayer(mt string, m manifest) (selection, bool, error) {
	var found []ocispec.Descriptor
	for _, l := range m.Layers {
		if _, ok := wasmLayerFormats[l.MediaType]; ok {
			found = append(found, l)
		}
	}
	switch len(found) {
	case 0:
		return selection{}, false, nil
	case 1:
		return selection{Format: wasmLayerFormats[found[0].MediaType], Layer: found[0]}, true, nil
	default:
		return selection{}, true, fmt.Errorf("%w: %d Wasm layers in %s, want exactly one", ErrUnsupportedFormat, len(found), describe(mt, m))
	}
}

// selectImageLayer picks the last layer of a Docker or OCI container image.
func selectImageLayer(mt string, m manifest) (selection, bool) {
	if len(m.Layers) == 0 {
		return selection{}, false
	}
	last := m.Layers[len(m.Layers)-1]
	if !slices.Contains(imageLayerTypes, last.MediaType) {
		return selection{}, false
	}
	switch {
	case mt == MediaTypeDockerManifest:
		return selection{Format: FormatDockerImage, Layer: last}, true
	case mt == ocispec.MediaTypeImageManifest, mt == "" && m.SchemaVersion == 2:
		return selection{Format: FormatOCIImage, Layer: last}, true
	}
	return selection{}, false
}

// describe lists the media types seen, for error messages.
func describe(mt string, m manifest) string {
	seen := []string{"manifest " + orNone(mt), "config " + orNone(m.Config.MediaType)}
	if m.ArtifactType != "" {
		seen = append(seen, "artifactType "+m.ArtifactType)
	}
	for _, l := range m.Layers {
		seen = append(seen, "layer "+orNone(l.MediaType))
	}
	return "[" + strings.Join(seen, ", ") + "]"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
