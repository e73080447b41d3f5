package oci_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
)

// fetchTag resolves and fetches repoTag, failing the test if Resolve fails.
func fetchTag(t *testing.T, f *oci.Fetcher, reg *ocitest.Registry, repoTag string) error {
	t.Helper()
	res, err := f.Resolve(context.Background(), request(reg, repoTag))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Fetch(context.Background(), request(reg, repoTag), res.Digest)
	return err
}

func TestTooLarge(t *testing.T) {
	reg, f := setup(t, oci.Options{MaxModuleSize: 1024})
	big := module(strings.Repeat("x", 2048))

	push(t, reg, "acme/big:1", oci.FormatCNCF, big)
	reg.Reset()
	wantErr(t, fetchTag(t, f, reg, "acme/big:1"), oci.ErrTooLarge, "2056 bytes, cap is 1024")
	if c := reg.Counts(); c.BlobGET != 0 {
		t.Errorf("read %d blobs; an oversized descriptor must be refused before reading", c.BlobGET)
	}

	// The gzip layer is small, the plugin.wasm inside it is not.
	push(t, reg, "acme/big-image:1", oci.FormatOCIImage, module(strings.Repeat("\x00", 4096)))
	wantErr(t, fetchTag(t, f, reg, "acme/big-image:1"), oci.ErrTooLarge, "plugin.wasm is 4104 bytes")
}

func TestGzipBomb(t *testing.T) {
	reg, f := setup(t, oci.Options{MaxModuleSize: 64 << 10}) // decompressed cap 256 KiB
	m, err := ocitest.ImageManifest(oci.FormatOCIImage, true, []ocitest.File{
		{Name: "filler", Data: make([]byte, 8<<20)},
		{Name: "plugin.wasm", Data: module("x")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.Layers[0].Data); n > 64<<10 {
		t.Fatalf("bomb layer is %d bytes compressed; test needs it under the module cap", n)
	}
	pushManifest(t, reg, "acme/bomb:1", m)
	wantErr(t, fetchTag(t, f, reg, "acme/bomb:1"), oci.ErrTooLarge, "decompresses to more than 262144 bytes")
}

func TestManifestTooLarge(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	raw := fmt.Sprintf(`{"schemaVersion":2,"annotations":{"pad":%q}}`, strings.Repeat("p", oci.MaxManifestSize))
	if _, err := ocitest.PushRaw(context.Background(), reg.Host, "acme/huge:1", ocispec.MediaTypeImageManifest, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, fetchTag(t, f, reg, "acme/huge:1"), oci.ErrTooLarge, "manifest is")
}

func TestDigestMismatch(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	layerDigest := func(format oci.Format, wasm []byte) digest.Digest {
		m, err := ocitest.BuildManifest(format, wasm)
		if err != nil {
			t.Fatal(err)
		}
		return digest.FromBytes(m.Layers[len(m.Layers)-1].Data)
	}
	for _, format := range []oci.Format{oci.FormatCNCF, oci.FormatDockerImage, oci.FormatOCIImage} {
		t.Run("layer "+string(format), func(t *testing.T) {
			wasm := module("tamper " + string(format))
			repoTag := "acme/tampered-" + string(format) + ":1"
			push(t, reg, repoTag, format, wasm)
			reg.Corrupt(layerDigest(format, wasm))
			wantErr(t, fetchTag(t, f, reg, repoTag), oci.ErrDigestMismatch)
		})
	}
	t.Run("manifest", func(t *testing.T) {
		d := push(t, reg, "acme/tampered-manifest:1", oci.FormatCNCF, module("m"))
		reg.Corrupt(d)
		wantErr(t, fetchTag(t, f, reg, "acme/tampered-manifest:1"), oci.ErrDigestMismatch)
	})
	t.Run("size lies", func(t *testing.T) {
		wasm := module("size lies")
		desc, err := ocitest.PushBlob(context.Background(), reg.Host, "acme/liar:1", ocitest.Blob{MediaType: oci.MediaTypeCNCFLayer, Data: wasm})
		if err != nil {
			t.Fatal(err)
		}
		desc.Size-- // the registry will send one byte more than declared
		raw := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":2},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
			ocispec.MediaTypeImageManifest, ocispec.MediaTypeEmptyJSON, digest.FromString("{}"), desc.MediaType, desc.Digest, desc.Size)
		if _, err := ocitest.PushRaw(context.Background(), reg.Host, "acme/liar:1", ocispec.MediaTypeImageManifest, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		wantErr(t, fetchTag(t, f, reg, "acme/liar:1"), oci.ErrDigestMismatch)
	})
}

func TestUnsupportedFormat(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	plain, err := ocitest.ImageManifest(oci.FormatDockerImage, true,
		[]ocitest.File{{Name: "bin/sh", Data: []byte("#!")}},
		[]ocitest.File{{Name: "app/main", Data: []byte("binary")}},
	)
	if err != nil {
		t.Fatal(err)
	}
	pushManifest(t, reg, "acme/plain-image:1", plain)
	wantErr(t, fetchTag(t, f, reg, "acme/plain-image:1"), oci.ErrUnsupportedFormat, "no plugin.wasm", "app/main")

	d := pushManifest(t, reg, "acme/helm-chart:1", ocitest.Manifest{
		Layers: []ocitest.Blob{{MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", Data: []byte("chart")}},
	})
	wantErr(t, fetchTag(t, f, reg, "acme/helm-chart:1"), oci.ErrUnsupportedFormat,
		"manifest "+d.String()+" of "+reg.Host+"/acme/helm-chart",
		"application/vnd.cncf.helm.chart.content.v1.tar+gzip", "supported: CNCF")
}

func TestNotFound(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	ctx := context.Background()
	d := push(t, reg, "acme/filter:1.0", oci.FormatCNCF, module("x"))

	_, err := f.Resolve(ctx, request(reg, "acme/filter:2.0"))
	wantErr(t, err, oci.ErrNotFound, "acme/filter:2.0")
	_, err = f.Resolve(ctx, request(reg, "acme/nothing:1.0"))
	wantErr(t, err, oci.ErrNotFound)
	_, err = f.Fetch(ctx, request(reg, "acme/nothing:1.0"), d)
	wantErr(t, err, oci.ErrNotFound)

	// A manifest whose layer was never pushed.
	missing := digest.FromString("never pushed")
	raw := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":2},"layers":[{"mediaType":%q,"digest":%q,"size":12}]}`,
		ocispec.MediaTypeImageManifest, ocispec.MediaTypeEmptyJSON, digest.FromString("{}"), oci.MediaTypeCNCFLayer, missing)
	md, err := ocitest.PushRaw(ctx, reg.Host, "acme/dangling:1", ocispec.MediaTypeImageManifest, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Fetch(ctx, request(reg, "acme/dangling:1"), md)
	wantErr(t, err, oci.ErrNotFound, missing.String())
}

func TestInvalidReference(t *testing.T) {
	f := oci.NewFetcher(oci.Options{})
	_, err := f.Resolve(context.Background(), oci.Request{Image: "acme/filter:1.0"})
	wantErr(t, err, oci.ErrInvalidReference, "no registry host")
	_, err = f.Fetch(context.Background(), oci.Request{Image: "127.0.0.1:1/acme/filter:1.0"}, "sha256:nope")
	wantErr(t, err, oci.ErrInvalidReference)
}

func TestPlainHTTPRegistryWithoutInsecure(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	push(t, reg, "acme/filter:1.0", oci.FormatCNCF, module("x"))
	req := request(reg, "acme/filter:1.0")
	req.Insecure = false
	_, err := f.Resolve(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "insecure") {
		t.Fatalf("err = %v, want a hint to mark the source insecure", err)
	}
	for _, s := range []error{oci.ErrUnauthorized, oci.ErrNotFound, oci.ErrInvalidReference} {
		if errorsIs(err, s) {
			t.Errorf("err %v classified as %v; it should be transient", err, s)
		}
	}
}
