package render

import (
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmext/wasmext/internal/oci"
)

// RegistryArtifact is what istio-agent looks at when a proxy pulls a module
// from the registry itself (delivery Registry). The Format alone does not
// decide it: internal/oci accepts tar and tar+gzip layers under either
// manifest kind and one- or two-layer solo.io images, istio-agent does not.
type RegistryArtifact struct {
	// Format is the packaging internal/oci recognized.
	Format oci.Format
	// LayerMediaTypes are the media types of the manifest's layers, in
	// manifest order (the manifest's config is not a layer). Empty means
	// unknown, and nothing is loadable.
	LayerMediaTypes []string
	// LayerGzip: for FormatDockerImage and FormatOCIImage, the bytes of the
	// last layer are a gzip stream. internal/oci tells tar from tar+gzip by
	// the magic bytes, istio-agent trusts the media type and gunzips.
	LayerGzip bool
	// ShadowingEntry: for FormatDockerImage and FormatOCIImage, the name of
	// a tar entry before the plugin.wasm that internal/oci read whose base
	// name is plugin.wasm too, e.g. "lib/plugin.wasm". istio-agent reads the
	// first entry with that base name, so it would load other bytes than the
	// verified ones. Empty: there is none.
	ShadowingEntry string
	// IndexPlatform: the digest is an image index, and internal/oci read
	// the manifest of this platform (e.g. wasip1/wasm) in it. istio-agent
	// turns the descriptor into an image with go-containerregistry's
	// Descriptor.Image, which resolves an index to the linux/amd64 child:
	// not the module the operator verified, or none. Empty: a manifest.
	IndexPlatform string
}

// ProxyLoadable reports whether istio-agent can load the module a from the
// registry, by the rules of its image fetcher (istio/istio
// pkg/wasm/imagefetcher.go; see the package doc, "Delivery and plugin
// configuration"): a Docker image whose last layer is tar.gzip, an OCI
// image whose last layer is tar+gzip, or an OCI image of exactly two layers
// one of which is the solo.io Wasm layer. When it cannot,
// why says so in words for the extension's status, naming the format and
// telling the user to use delivery Cache; it is empty otherwise.
func ProxyLoadable(a RegistryArtifact) (ok bool, why string) {
	var cause string
	switch {
	case len(a.LayerMediaTypes) == 0:
		cause = "the manifest's layers are not known"
	case a.IndexPlatform != "":
		cause = fmt.Sprintf("the digest is an image index whose %s manifest the operator read, and istio-agent resolves an index to its linux/amd64 image instead", a.IndexPlatform)
	case a.Format == oci.FormatDockerImage:
		cause = imageNotLoadable(a, oci.MediaTypeDockerLayerGzip)
	case a.Format == oci.FormatOCIImage:
		cause = imageNotLoadable(a, ocispec.MediaTypeImageLayerGzip)
	case a.Format == oci.FormatSolo:
		cause = soloNotLoadable(a.LayerMediaTypes)
	default:
		cause = "istio-agent reads only a Docker or OCI image whose last layer is tar+gzip holding plugin.wasm, " +
			"or a solo.io image of two layers (a config layer and the " + oci.MediaTypeSoloLayer + " layer)"
	}
	if cause == "" {
		return true, ""
	}
	return false, fmt.Sprintf("module format %s (layers [%s]) cannot be loaded by the proxies from the registry: %s. "+
		"With delivery Registry istio-agent would put an RBAC filter in the plugin's place, deny-all unless failStrategy is FailOpen (then allow-all). "+
		"Use delivery Cache: the proxies then fetch the verified .wasm from the operator, which works for every format",
		a.Format, strings.Join(a.LayerMediaTypes, ", "), cause)
}

// imageNotLoadable is why istio-agent cannot read a Docker or OCI image
// whose last layer must have media type want, or "".
func imageNotLoadable(a RegistryArtifact, want string) string {
	last := a.LayerMediaTypes[len(a.LayerMediaTypes)-1]
	switch {
	case last != want:
		return fmt.Sprintf("istio-agent reads the last layer of a %s image only with media type %s, not %s", a.Format, want, last)
	case !a.LayerGzip:
		return fmt.Sprintf("the last layer has media type %s but is not gzip-compressed, and istio-agent gunzips it", want)
	case a.ShadowingEntry != "":
		return fmt.Sprintf("the layer holds %q before plugin.wasm, and istio-agent would load that file instead of the verified one", a.ShadowingEntry)
	}
	return ""
}

// soloNotLoadable is why istio-agent cannot read a solo.io image with these
// layers, or "". It reads an image as solo.io's only after failing to read
// it as a compat image, so a last tar+gzip layer would be tried first.
func soloNotLoadable(layers []string) string {
	switch {
	case len(layers) != 2:
		return fmt.Sprintf("istio-agent reads a solo.io image only with exactly two layers (a config layer and the Wasm layer), this one has %d", len(layers))
	case layers[1] == ocispec.MediaTypeImageLayerGzip:
		return "its last layer is " + ocispec.MediaTypeImageLayerGzip + ", which istio-agent would read first, as a compat image, instead of the Wasm layer"
	}
	return ""
}
