package oci_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// countingTransport counts the blob body bytes the fetcher reads.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && strings.Contains(req.URL.Path, "/blobs/") {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.n}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// pushLayerManifest pushes an OCI manifest of one layer descriptor (its
// blob need not exist) and returns the manifest digest.
func pushLayerManifest(t *testing.T, reg *ocitest.Registry, repoTag string, layer ocispec.Descriptor) digest.Digest {
	t.Helper()
	raw := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":2},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		ocispec.MediaTypeImageManifest, ocispec.MediaTypeEmptyJSON, digest.FromString("{}"), layer.MediaType, layer.Digest, layer.Size)
	d, err := ocitest.PushRaw(context.Background(), reg.Host, repoTag, ocispec.MediaTypeImageManifest, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLyingSizeStopsAtCap: a registry that streams an endless blob without
// a Content-Length, whatever the descriptor says, is read no further than
// the descriptor's size (at most the module cap) plus the one byte that
// proves trailing data; the fetch fails as a digest mismatch.
func TestLyingSizeStopsAtCap(t *testing.T) {
	const limit = 64 << 10
	reg := ocitest.NewRegistry(t)
	ct := &countingTransport{}
	f := oci.NewFetcher(oci.Options{MaxModuleSize: limit, HTTPClient: &http.Client{Transport: ct}})
	wasm := module("endless")
	tgz, err := ocitest.TarLayer(true, ocitest.File{Name: "plugin.wasm", Data: wasm})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, layerType string
		prefix          []byte
		size            int64
	}{
		{"cncf says 100 bytes", oci.MediaTypeCNCFLayer, wasm, 100},
		{"cncf says the cap", oci.MediaTypeCNCFLayer, wasm, limit},
		{"image says its size", ocispec.MediaTypeImageLayerGzip, tgz, int64(len(tgz))},
		{"image says the cap", ocispec.MediaTypeImageLayerGzip, tgz, limit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layer := ocispec.Descriptor{MediaType: tc.layerType, Digest: digest.FromBytes(tc.prefix), Size: tc.size}
			reg.Override(layer.Digest, ocitest.Override{Body: func() io.Reader { return io.MultiReader(bytes.NewReader(tc.prefix), zeros{}) }})
			repoTag := "liar/" + strings.ReplaceAll(tc.name, " ", "-") + ":1"
			d := pushLayerManifest(t, reg, repoTag, layer)
			ct.n.Store(0)
			_, err := f.Fetch(context.Background(), request(reg, repoTag), d)
			wantErr(t, err, oci.ErrDigestMismatch)
			if n := ct.n.Load(); n > tc.size+1 || n < tc.size {
				t.Errorf("read %d blob bytes of an endless stream; want the declared %d and one more", n, tc.size)
			}
		})
	}
}

// TestShortBodyIsTransient: a blob that ends before its declared size (a
// cut connection) is worth a retry: no sentinel.
func TestShortBodyIsTransient(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	wasm := module("short")
	layer := ocispec.Descriptor{MediaType: oci.MediaTypeCNCFLayer, Digest: digest.FromBytes(wasm), Size: int64(len(wasm))}
	reg.Override(layer.Digest, ocitest.Override{Body: func() io.Reader { return bytes.NewReader(wasm[:5]) }})
	d := pushLayerManifest(t, reg, "liar/short:1", layer)
	_, err := f.Fetch(context.Background(), request(reg, "liar/short:1"), d)
	if err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("err = %v, want an unexpected EOF", err)
	}
	for _, s := range []error{oci.ErrDigestMismatch, oci.ErrTooLarge, oci.ErrNotFound, oci.ErrUnsupportedFormat} {
		if errorsIs(err, s) {
			t.Errorf("err %v classified as %v; a short read is transient", err, s)
		}
	}
}

// TestContentDigestLies: an answer whose Docker-Content-Digest names other
// content than the digest asked for is a digest mismatch, for the manifest
// and for the blob.
func TestContentDigestLies(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	wasm := module("header lies")
	d := push(t, reg, "liar/header:1", oci.FormatCNCF, wasm)
	other := digest.FromString("other content")
	reg.Override(d, ocitest.Override{Header: http.Header{"Docker-Content-Digest": {other.String()}}})
	_, err := f.Fetch(context.Background(), request(reg, "liar/header:1"), d)
	wantErr(t, err, oci.ErrDigestMismatch, "manifest "+d.String(), other.String())

	d = push(t, reg, "liar/blob-header:1", oci.FormatWasmToOCI, wasm)
	reg.Override(digest.FromBytes(wasm), ocitest.Override{Header: http.Header{"Docker-Content-Digest": {other.String()}}})
	_, err = f.Fetch(context.Background(), request(reg, "liar/blob-header:1"), d)
	wantErr(t, err, oci.ErrDigestMismatch, "layer "+digest.FromBytes(wasm).String(), other.String())
}

// TestMissingImageLayer: an image manifest whose last layer the registry
// does not have is NotFound, naming the layer.
func TestMissingImageLayer(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	missing := digest.FromString("no such layer")
	d := pushLayerManifest(t, reg, "acme/no-layer:1", ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: missing, Size: 40})
	_, err := f.Fetch(context.Background(), request(reg, "acme/no-layer:1"), d)
	wantErr(t, err, oci.ErrNotFound, "oci-image layer "+missing.String())
}

// TestWrongMediaTypes: a layer whose media type does not say what its bytes
// are is refused by the reader of that type (tar) or, for the raw Wasm
// types that package oci passes through, by wasm.Inspect; a layer type no
// format reads is refused before any blob is read.
func TestWrongMediaTypes(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	good := wasmtest.ProxyWasm
	tgz, err := ocitest.TarLayer(true, ocitest.File{Name: "plugin.wasm", Data: good})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		layer     ocitest.Blob
		fetchErr  error // nil: Fetch passes the bytes on and Inspect must refuse them
		inspected error
		wantMsg   string
	}{
		{"tar type over raw wasm", ocitest.Blob{MediaType: ocispec.MediaTypeImageLayerGzip, Data: good}, oci.ErrUnsupportedFormat, nil, "not a readable tar archive"},
		{"docker tar type over raw wasm", ocitest.Blob{MediaType: oci.MediaTypeDockerLayer, Data: good}, oci.ErrUnsupportedFormat, nil, "not a readable tar archive"},
		{"zstd layer", ocitest.Blob{MediaType: ocispec.MediaTypeImageLayerZstd, Data: tgz}, oci.ErrUnsupportedFormat, nil, "tar+zstd"},
		{"helm chart", ocitest.Blob{MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", Data: tgz}, oci.ErrUnsupportedFormat, nil, "helm.chart"},
		{"wasm type over a tar.gz", ocitest.Blob{MediaType: oci.MediaTypeCNCFLayer, Data: tgz}, nil, wasm.ErrInvalidWasm, "gzip"},
		{"wasm type over nothing", ocitest.Blob{MediaType: oci.MediaTypeSoloLayer, Data: []byte{}}, nil, wasm.ErrInvalidWasm, "empty input"},
		{"wasm type over HTML", ocitest.Blob{MediaType: oci.MediaTypeWasmToOCILayer, Data: []byte("<html>login</html>")}, nil, wasm.ErrInvalidWasm, "missing magic number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repoTag := "types/" + strings.ToLower(strings.ReplaceAll(tc.name, " ", "-")) + ":1"
			d := pushManifest(t, reg, repoTag, ocitest.Manifest{Layers: []ocitest.Blob{tc.layer}})
			reg.Reset()
			m, err := f.Fetch(context.Background(), request(reg, repoTag), d)
			if tc.fetchErr != nil {
				wantErr(t, err, tc.fetchErr, tc.wantMsg)
				if c := reg.Counts(); tc.layer.MediaType != ocispec.MediaTypeImageLayerGzip && tc.layer.MediaType != oci.MediaTypeDockerLayer && c.BlobGET != 0 {
					t.Errorf("read %d blobs of a layer type no format reads", c.BlobGET)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = wasm.Inspect(t.Context(), m.Wasm)
			wantErr(t, err, tc.inspected, tc.wantMsg)
		})
	}
}
