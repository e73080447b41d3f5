package render

import (
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmext/wasmext/internal/oci"
)

// proxyLoadableCases are the layouts istio-agent's image fetcher reads and
// refuses (istio/istio pkg/wasm/imagefetcher.go), as internal/oci reports
// them. cause is a substring of the reason when not ok.
var proxyLoadableCases = []struct {
	name  string
	a     RegistryArtifact
	ok    bool
	cause string
}{
	{"docker image, one tar.gzip layer", RegistryArtifact{Format: oci.FormatDockerImage, LayerMediaTypes: []string{oci.MediaTypeDockerLayerGzip}, LayerGzip: true}, true, ""},
	{"oci image behind an index", RegistryArtifact{Format: oci.FormatOCIImage, LayerMediaTypes: []string{ocispec.MediaTypeImageLayerGzip}, LayerGzip: true, IndexPlatform: "wasip1/wasm"}, false, "image index whose wasip1/wasm manifest"},
	{"docker image, plugin in the last of two layers", RegistryArtifact{Format: oci.FormatDockerImage, LayerMediaTypes: []string{oci.MediaTypeDockerLayerGzip, oci.MediaTypeDockerLayerGzip}, LayerGzip: true}, true, ""},
	{"docker image, uncompressed tar layer", RegistryArtifact{Format: oci.FormatDockerImage, LayerMediaTypes: []string{oci.MediaTypeDockerLayer}}, false, "only with media type " + oci.MediaTypeDockerLayerGzip},
	{"docker image, OCI layer type", RegistryArtifact{Format: oci.FormatDockerImage, LayerMediaTypes: []string{ocispec.MediaTypeImageLayerGzip}, LayerGzip: true}, false, "not " + ocispec.MediaTypeImageLayerGzip},
	{"oci image, one tar+gzip layer", RegistryArtifact{Format: oci.FormatOCIImage, LayerMediaTypes: []string{ocispec.MediaTypeImageLayerGzip}, LayerGzip: true}, true, ""},
	{"oci image, tar+gzip last of two", RegistryArtifact{Format: oci.FormatOCIImage, LayerMediaTypes: []string{ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip}, LayerGzip: true}, true, ""},
	{"oci image, uncompressed tar layer", RegistryArtifact{Format: oci.FormatOCIImage, LayerMediaTypes: []string{ocispec.MediaTypeImageLayer}}, false, "not " + ocispec.MediaTypeImageLayer},
	{"oci image, Docker layer type", RegistryArtifact{Format: oci.FormatOCIImage, LayerMediaTypes: []string{oci.MediaTypeDockerLayerGzip}, LayerGzip: true}, false, "only with media type " + ocispec.MediaTypeImageLayerGzip},
	{"oci image, tar+gzip type over a plain tar", RegistryArtifact{Format: oci.FormatOCIImage, LayerMediaTypes: []string{ocispec.MediaTypeImageLayerGzip}}, false, "not gzip-compressed"},
	{"oci image, another plugin.wasm first", RegistryArtifact{Format: oci.FormatOCIImage, LayerMediaTypes: []string{ocispec.MediaTypeImageLayerGzip}, LayerGzip: true, ShadowingEntry: "lib/plugin.wasm"}, false, `"lib/plugin.wasm"`},
	{"solo, config layer and Wasm layer", RegistryArtifact{Format: oci.FormatSolo, LayerMediaTypes: []string{oci.MediaTypeSoloConfig, oci.MediaTypeSoloLayer}}, true, ""},
	{"solo, Wasm layer first", RegistryArtifact{Format: oci.FormatSolo, LayerMediaTypes: []string{oci.MediaTypeSoloLayer, oci.MediaTypeSoloConfig}}, true, ""},
	{"solo, one layer", RegistryArtifact{Format: oci.FormatSolo, LayerMediaTypes: []string{oci.MediaTypeSoloLayer}}, false, "exactly two layers"},
	{"solo, three layers", RegistryArtifact{Format: oci.FormatSolo, LayerMediaTypes: []string{oci.MediaTypeSoloConfig, oci.MediaTypeSoloLayer, "text/plain"}}, false, "has 3"},
	{"solo, tar+gzip last", RegistryArtifact{Format: oci.FormatSolo, LayerMediaTypes: []string{oci.MediaTypeSoloLayer, ocispec.MediaTypeImageLayerGzip}}, false, "as a compat image"},
	{"cncf", RegistryArtifact{Format: oci.FormatCNCF, LayerMediaTypes: []string{oci.MediaTypeCNCFLayer}}, false, "reads only"},
	{"wasm-to-oci", RegistryArtifact{Format: oci.FormatWasmToOCI, LayerMediaTypes: []string{oci.MediaTypeWasmToOCILayer}}, false, "reads only"},
	{"layers unknown", RegistryArtifact{Format: oci.FormatOCIImage, LayerGzip: true}, false, "not known"},
}

func TestProxyLoadable(t *testing.T) {
	for _, tc := range proxyLoadableCases {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := ProxyLoadable(tc.a)
			if ok != tc.ok {
				t.Fatalf("ProxyLoadable(%+v) = %v (%s), want %v", tc.a, ok, why, tc.ok)
			}
			if ok {
				if why != "" {
					t.Errorf("loadable, but reason %q", why)
				}
				return
			}
			// The reason is for the user: it names the format and its
			// layers, says why, and says what to do.
			for _, want := range []string{"module format " + string(tc.a.Format), tc.cause, "deny-all", "Use delivery Cache"} {
				if !strings.Contains(why, want) {
					t.Errorf("reason %q does not contain %q", why, want)
				}
			}
		})
	}
}
