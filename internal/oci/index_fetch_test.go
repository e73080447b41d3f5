package oci_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
)

// buildManifest is ocitest.BuildManifest, failing tb on error.
func buildManifest(tb testing.TB, f oci.Format, wasm []byte) ocitest.Manifest {
	tb.Helper()
	m, err := ocitest.BuildManifest(f, wasm)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func pushIndex(t *testing.T, reg *ocitest.Registry, repoTag, mt string, entries ...ocitest.IndexEntry) (digest.Digest, []digest.Digest) {
	t.Helper()
	d, ds, err := ocitest.PushIndex(context.Background(), reg.Host, repoTag, mt, entries)
	if err != nil {
		t.Fatal(err)
	}
	return d, ds
}

func platform(os, arch string) *ocispec.Platform {
	return &ocispec.Platform{OS: os, Architecture: arch}
}

// TestFetchIndex: an image index is read through its wasip1/wasm (or
// Docker's wasi/wasm) manifest: one more manifest GET, the module's blob,
// nothing of the other platforms.
func TestFetchIndex(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	linux, err := ocitest.ImageManifest(oci.FormatOCIImage, true, []ocitest.File{{Name: "bin/app", Data: []byte("elf")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, mediaType, platform string
		format                    oci.Format
	}{
		{"oci index", ocispec.MediaTypeImageIndex, "wasip1/wasm", oci.FormatCNCF},
		{"docker list", oci.MediaTypeDockerManifestList, "wasi/wasm", oci.FormatDockerImage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wasm := module(tc.name)
			var p ocispec.Platform
			p.OS, p.Architecture, _ = strings.Cut(tc.platform, "/")
			repoTag := "index/" + string(tc.format) + ":1"
			d, ds := pushIndex(t, reg, repoTag, tc.mediaType,
				ocitest.IndexEntry{Platform: platform("linux", "amd64"), Manifest: linux},
				ocitest.IndexEntry{Platform: &p, Manifest: buildManifest(t, tc.format, wasm)},
			)
			reg.Reset()
			m, err := f.Fetch(context.Background(), request(reg, repoTag), d)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Wasm, wasm) || m.Format != tc.format || m.Digest != d {
				t.Fatalf("Fetch = %+v, want %q in %s under index digest %s", m, wasm, tc.format, d)
			}
			if m.Layout.IndexPlatform != tc.platform || m.Layout.PlatformManifest != ds[1] {
				t.Errorf("layout = %+v, want platform %s manifest %s", m.Layout, tc.platform, ds[1])
			}
			if c := reg.Counts(); c != (ocitest.Counts{ManifestGET: 2, BlobGET: 1, Total: 3}) {
				t.Errorf("counts = %+v, want the index, one manifest and one blob", c)
			}
		})
	}
}

// TestFetchIndexRefused: an index without a Wasm platform is refused naming
// the platforms it has, before any blob is read; a Wasm entry that is
// missing or tampered with is NotFound or DigestMismatch.
func TestFetchIndexRefused(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	ctx := context.Background()
	linux := buildManifest(t, oci.FormatOCIImage, module("not wasm"))
	d, _ := pushIndex(t, reg, "index/linux:1", ocispec.MediaTypeImageIndex,
		ocitest.IndexEntry{Platform: platform("linux", "amd64"), Manifest: linux},
		ocitest.IndexEntry{Platform: platform("linux", "arm64"), Manifest: linux},
		ocitest.IndexEntry{Manifest: linux},
	)
	reg.Reset()
	_, err := f.Fetch(ctx, request(reg, "index/linux:1"), d)
	wantErr(t, err, oci.ErrUnsupportedFormat, "manifest "+d.String(), "no wasip1/wasm manifest", "linux/amd64, linux/arm64, (none)")
	if c := reg.Counts(); c.BlobGET != 0 || c.ManifestGET != 1 {
		t.Errorf("counts = %+v, want only the index read", c)
	}

	d, ds := pushIndex(t, reg, "index/dangling:1", ocispec.MediaTypeImageIndex,
		ocitest.IndexEntry{Platform: platform("wasip1", "wasm"), Manifest: buildManifest(t, oci.FormatCNCF, module("lost"))})
	reg.Override(ds[0], ocitest.Override{Status: http.StatusNotFound})
	_, err = f.Fetch(ctx, request(reg, "index/dangling:1"), d)
	wantErr(t, err, oci.ErrNotFound, "wasip1/wasm manifest "+ds[0].String()+" of index "+d.String())

	d, ds = pushIndex(t, reg, "index/tampered:1", ocispec.MediaTypeImageIndex,
		ocitest.IndexEntry{Platform: platform("wasip1", "wasm"), Manifest: buildManifest(t, oci.FormatCNCF, module("t"))})
	reg.Corrupt(ds[0])
	_, err = f.Fetch(ctx, request(reg, "index/tampered:1"), d)
	wantErr(t, err, oci.ErrDigestMismatch, ds[0].String())

	inner, _ := pushIndex(t, reg, "index/inner:1", ocispec.MediaTypeImageIndex,
		ocitest.IndexEntry{Platform: platform("wasip1", "wasm"), Manifest: buildManifest(t, oci.FormatCNCF, module("n"))})
	raw := fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":%q,"digest":%q,"size":300,"platform":{"os":"wasip1","architecture":"wasm"}}]}`,
		ocispec.MediaTypeImageManifest, inner) // says manifest, is an index
	d, err = ocitest.PushRaw(ctx, reg.Host, "index/inner:outer", ocispec.MediaTypeImageIndex, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Fetch(ctx, request(reg, "index/inner:outer"), d)
	wantErr(t, err, oci.ErrUnsupportedFormat, "it is an image index")
}
