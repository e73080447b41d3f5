package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	dgstA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	dgstB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// manifestOf returns manifest JSON with the given media types; layers get
// dgstA except the last, which gets dgstB.
func manifestOf(mt, config string, layers ...string) string {
	var ls []string
	for i, l := range layers {
		d := dgstA
		if i == len(layers)-1 {
			d = dgstB
		}
		ls = append(ls, fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":10}`, l, d))
	}
	mtField := ""
	if mt != "" {
		mtField = fmt.Sprintf(`"mediaType":%q,`, mt)
	}
	return fmt.Sprintf(`{"schemaVersion":2,%s"config":{"mediaType":%q,"digest":%q,"size":2},"layers":[%s]}`,
		mtField, config, dgstA, strings.Join(ls, ","))
}

func TestSelectFormat(t *testing.T) {
	oci := ocispec.MediaTypeImageManifest
	tests := []struct {
		name        string
		contentType string
		manifest    string
		want        Format
		wantErr     string // substring; ErrUnsupportedFormat implied
	}{
		{"cncf", "", manifestOf(oci, MediaTypeCNCFConfig, MediaTypeCNCFLayer), FormatCNCF, ""},
		{"cncf without manifest mediaType", oci, manifestOf("", MediaTypeCNCFConfig, MediaTypeCNCFLayer), FormatCNCF, ""},
		{"wasm-to-oci", "", manifestOf(oci, MediaTypeWasmToOCIConfig, MediaTypeWasmToOCILayer), FormatWasmToOCI, ""},
		{"solo with config", "", manifestOf(oci, MediaTypeSoloConfig, MediaTypeSoloLayer), FormatSolo, ""},
		{"solo without config", "", manifestOf(oci, ocispec.MediaTypeEmptyJSON, MediaTypeSoloLayer), FormatSolo, ""},
		{"docker image gzip", "", manifestOf(MediaTypeDockerManifest, MediaTypeDockerConfig, MediaTypeDockerLayerGzip, MediaTypeDockerLayerGzip), FormatDockerImage, ""},
		{"docker image from content type", MediaTypeDockerManifest, manifestOf("", MediaTypeDockerConfig, MediaTypeDockerLayer), FormatDockerImage, ""},
		{"oci image tar", "", manifestOf(oci, ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageLayer), FormatOCIImage, ""},
		{"oci image gzip", "", manifestOf(oci, ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageLayerGzip), FormatOCIImage, ""},
		{"unknown layer", "", manifestOf(oci, ocispec.MediaTypeEmptyJSON, "application/vnd.acme.thing"), "", "application/vnd.acme.thing"},
		{"zstd image layer", "", manifestOf(oci, ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageLayerZstd), "", "tar+zstd"},
		{"no layers", "", manifestOf(oci, ocispec.MediaTypeImageConfig), "", "supported:"},
		{"two wasm layers", "", manifestOf(oci, MediaTypeCNCFConfig, MediaTypeCNCFLayer, MediaTypeCNCFLayer), "", "want exactly one"},
		{"index", "", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`, "", "image index"},
		{"docker list", MediaTypeDockerManifestList, `{"schemaVersion":2,"manifests":[{}]}`, "", "image index"},
		{"schema 1", "", `{"schemaVersion":1,"fsLayers":[]}`, "", "schemaVersion is 1"},
		{"not json", "", `<html>`, "", "not valid JSON"},
		{"bad digest", "", `{"schemaVersion":2,"layers":[{"mediaType":"application/wasm","digest":"sha256:zz","size":1}]}`, "", "invalid digest"},
		{"negative size", "", `{"schemaVersion":2,"layers":[{"mediaType":"application/wasm","digest":"` + dgstA + `","size":-1}]}`, "", "negative size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := selectFormat(tt.contentType, []byte(tt.manifest))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrUnsupportedFormat containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sel.Format != tt.want {
				t.Errorf("format = %q, want %q", sel.Format, tt.want)
			}
			if sel.Layer.Digest != dgstB {
				t.Errorf("layer = %s, want the last layer %s", sel.Layer.Digest, dgstB)
			}
		})
	}
}

func FuzzSelectFormat(f *testing.F) {
	oci := ocispec.MediaTypeImageManifest
	f.Add("", manifestOf(oci, MediaTypeCNCFConfig, MediaTypeCNCFLayer))
	f.Add(oci, manifestOf("", MediaTypeSoloConfig, MediaTypeSoloLayer))
	f.Add("", manifestOf(MediaTypeDockerManifest, MediaTypeDockerConfig, MediaTypeDockerLayerGzip, MediaTypeDockerLayerGzip))
	f.Add(MediaTypeDockerManifestList, `{"schemaVersion":2,"manifests":[{}]}`)
	f.Add("", `{"schemaVersion":2,"layers":[{"mediaType":"application/wasm","digest":"sha256:zz","size":-1}]}`)
	f.Add("", `null`)
	f.Fuzz(func(t *testing.T, contentType, raw string) {
		sel, err := selectFormat(contentType, []byte(raw))
		if err != nil {
			if !errors.Is(err, ErrUnsupportedFormat) {
				t.Fatalf("error does not wrap ErrUnsupportedFormat: %v", err)
			}
			return
		}
		if sel.Format == "" || sel.Layer.Digest.Validate() != nil || sel.Layer.Size < 0 {
			t.Fatalf("accepted an unusable selection %+v", sel)
		}
		checkSelection(t, raw, sel)
	})
}

// checkSelection fails t unless sel's layer is the one its format reads
// from the manifest raw: the only Wasm layer, or an image's last layer.
func checkSelection(t *testing.T, raw string, sel selection) {
	t.Helper()
	var m manifest
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("accepted a manifest that does not parse: %v", err)
	}
	if len(m.Manifests) > 0 || len(m.Layers) != len(sel.LayerMediaTypes) {
		t.Fatalf("selection %+v from %d layers, manifests %q", sel, len(m.Layers), m.Manifests)
	}
	switch f, wasm := wasmLayerFormats[sel.Layer.MediaType]; {
	case wasm && f == sel.Format:
	case !wasm && (sel.Format == FormatDockerImage || sel.Format == FormatOCIImage):
		last := m.Layers[len(m.Layers)-1]
		if last.Digest != sel.Layer.Digest || !slices.Contains(imageLayerTypes, last.MediaType) {
			t.Fatalf("image format read layer %s, not the last tar layer %s", sel.Layer.Digest, last.Digest)
		}
	default:
		t.Fatalf("format %s read a layer of type %q", sel.Format, sel.Layer.MediaType)
	}
}
