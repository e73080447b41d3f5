package oci

import (
	"encoding/json"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// wasmPlatforms are the index platforms (os/architecture) that hold a Wasm
// module, best first: the CNCF Wasm artifact's wasip1/wasm, then Docker's
// wasi/wasm and its older wasi/wasm32.
var wasmPlatforms = []string{"wasip1/wasm", "wasi/wasm", "wasi/wasm32"}

// maxListedPlatforms caps the platforms an error message names.
const maxListedPlatforms = 10

// platformChoice is what selectPlatform picked from an image index.
type platformChoice struct {
	Manifest ocispec.Descriptor // the platform's manifest, to read next
	Platform string             // os/architecture, e.g. "wasip1/wasm"
}

// selectPlatform decides whether raw is an image index (by its mediaType,
// or contentType when that is empty, or a manifests field) and if so which
// of its manifests holds the Wasm module: the first whose platform is the
// best of wasmPlatforms. indexed is false for anything else (selectFormat
// judges it). It is a pure function over bytes; errors wrap
// ErrUnsupportedFormat, or ErrTooLarge for a manifest over MaxManifestSize.
func selectPlatform(contentType string, raw []byte) (c platformChoice, indexed bool, err error) {
	var idx struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	if json.Unmarshal(raw, &idx) != nil {
		return c, false, nil
	}
	mt := idx.MediaType
	if mt == "" {
		mt = contentType
	}
	if !isIndex(mt) && len(idx.Manifests) == 0 {
		return c, false, nil
	}
	var entries []ocispec.Descriptor
	if len(idx.Manifests) == 0 {
		idx.Manifests = []byte("[]") // an index type without a manifests field
	}
	if err := json.Unmarshal(idx.Manifests, &entries); err != nil {
		return c, true, fmt.Errorf("%w: image index (%s) manifests are not a list of descriptors: %v", ErrUnsupportedFormat, orNone(mt), err)
	}
	for _, want := range wasmPlatforms {
		for _, e := range entries {
			if platformOf(e) == want {
				return platformChoice{Manifest: e, Platform: want}, true, checkIndexEntry(e)
			}
		}
	}
	return c, true, fmt.Errorf("%w: image index (%s) has no %s manifest; its platforms: %s; push the module as a single manifest or add a %s entry to the index",
		ErrUnsupportedFormat, orNone(mt), wasmPlatforms[0], listPlatforms(entries), wasmPlatforms[0])
}

// checkIndexEntry refuses an index entry that could not be read safely.
func checkIndexEntry(e ocispec.Descriptor) error {
	p := platformOf(e)
	if err := e.Digest.Validate(); err != nil {
		return fmt.Errorf("%w: index entry %s has an invalid digest: %v", ErrUnsupportedFormat, p, err)
	}
	if isIndex(e.MediaType) {
		return fmt.Errorf("%w: index entry %s is an index itself (%s); nested indexes are not read", ErrUnsupportedFormat, p, e.MediaType)
	}
	if e.Size < 0 {
		return fmt.Errorf("%w: index entry %s has a negative size %d", ErrUnsupportedFormat, p, e.Size)
	}
	if e.Size > MaxManifestSize {
		return fmt.Errorf("%w: index entry %s is %d bytes, cap is %d", ErrTooLarge, p, e.Size, MaxManifestSize)
	}
	return nil
}

// platformOf returns "os/architecture" of an index entry ("(none)" when it
// has no platform); a variant is left out: no Wasm platform has one.
func platformOf(e ocispec.Descriptor) string {
	if e.Platform == nil {
		return "(none)"
	}
	return orNone(e.Platform.OS) + "/" + orNone(e.Platform.Architecture)
}

// listPlatforms names the distinct platforms of entries, for messages.
func listPlatforms(entries []ocispec.Descriptor) string {
	if len(entries) == 0 {
		return "none (the index is empty)"
	}
	var names []string
	seen := map[string]bool{}
	for _, e := range entries {
		p := platformOf(e)
		if e.Platform != nil && e.Platform.Variant != "" {
			p += "/" + e.Platform.Variant
		}
		if !seen[p] {
			seen[p] = true
			names = append(names, p)
		}
	}
	more := ""
	if len(names) > maxListedPlatforms {
		more = fmt.Sprintf(" and %d more", len(names)-maxListedPlatforms)
		names = names[:maxListedPlatforms]
	}
	return strings.Join(names, ", ") + more
}
