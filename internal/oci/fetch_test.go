package oci_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
)

// module returns distinct fake Wasm bytes; package oci does not validate Wasm.
func module(payload string) []byte { return append([]byte("\x00asm\x01\x00\x00\x00"), payload...) }

func setup(t *testing.T, o oci.Options) (*ocitest.Registry, *oci.Fetcher) {
	t.Helper()
	return ocitest.NewRegistry(t), oci.NewFetcher(o)
}

func push(t testing.TB, reg *ocitest.Registry, repoTag string, f oci.Format, wasm []byte, opts ...ocitest.PushOption) digest.Digest {
	t.Helper()
	d, err := ocitest.Push(context.Background(), reg.Host, repoTag, f, wasm, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func pushManifest(t testing.TB, reg *ocitest.Registry, repoTag string, m ocitest.Manifest) digest.Digest {
	t.Helper()
	d, err := ocitest.PushManifest(context.Background(), reg.Host, repoTag, m)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func request(reg *ocitest.Registry, repoTag string) oci.Request {
	return oci.Request{Image: reg.Ref(repoTag), Insecure: true}
}

func wantErr(t *testing.T, err, target error, contains ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
	t.Log(err)
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	tests := []struct {
		name   string
		format oci.Format
		opts   []ocitest.PushOption
	}{
		{"cncf", oci.FormatCNCF, nil},
		{"wasm-to-oci", oci.FormatWasmToOCI, nil},
		{"solo with config", oci.FormatSolo, nil},
		{"solo without config", oci.FormatSolo, []ocitest.PushOption{ocitest.SoloConfig(false)}},
		{"docker image gzip", oci.FormatDockerImage, nil},
		{"docker image tar", oci.FormatDockerImage, []ocitest.PushOption{ocitest.Gzip(false)}},
		{"oci image gzip", oci.FormatOCIImage, nil},
		{"oci image tar", oci.FormatOCIImage, []ocitest.PushOption{ocitest.Gzip(false)}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wasm := module(tt.name)
			repoTag := "acme/" + strings.ReplaceAll(tt.name, " ", "-") + ":1.0"
			pushed := push(t, reg, repoTag, tt.format, wasm, tt.opts...)
			req := request(reg, repoTag)

			res, err := f.Resolve(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Digest != pushed || res.Repository != reg.Host+"/"+strings.Split(repoTag, ":")[0] || res.Size <= 0 || res.MediaType == "" {
				t.Fatalf("Resolve = %+v, want digest %s", res, pushed)
			}
			reg.Reset()
			m, err := f.Fetch(ctx, req, res.Digest)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(wasm)
			if !bytes.Equal(m.Wasm, wasm) || m.Format != tt.format || m.Digest != pushed ||
				m.SHA256 != hex.EncodeToString(sum[:]) || m.Size != int64(len(wasm)) || m.Repository != res.Repository {
				t.Fatalf("Fetch = %+v, want %q in %s", m, wasm, tt.format)
			}
			// One manifest GET and one blob GET, whatever the format: no
			// config, and only the last layer of an image.
			if c := reg.Counts(); c.ManifestGET != 1 || c.BlobGET != 1 || c.Total != 2 {
				t.Errorf("counts = %+v, want 1 manifest GET and 1 blob GET", c)
			}
		})
	}
}

func TestResolveReadsNoBlob(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	push(t, reg, "acme/filter:1.0", oci.FormatCNCF, module("x"))
	reg.Reset()
	if _, err := f.Resolve(context.Background(), request(reg, "acme/filter:1.0")); err != nil {
		t.Fatal(err)
	}
	if c := reg.Counts(); c != (ocitest.Counts{ManifestHEAD: 1, Total: 1}) {
		t.Fatalf("counts = %+v, want exactly one manifest HEAD", c)
	}
	if c := reg.CountsFor("acme/filter"); c.ManifestHEAD != 1 {
		t.Fatalf("per-repository counts = %+v", c)
	}
}

func TestFetchCNCFReadsOneBlob(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	d := push(t, reg, "acme/filter:1.0", oci.FormatCNCF, module("x"))
	reg.Reset()
	if _, err := f.Fetch(context.Background(), request(reg, "acme/filter:1.0"), d); err != nil {
		t.Fatal(err)
	}
	if c := reg.Counts(); c != (ocitest.Counts{ManifestGET: 1, BlobGET: 1, Total: 2}) {
		t.Fatalf("counts = %+v, want one manifest GET and one blob GET", c)
	}
}

func TestTagRepointed(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	ctx := context.Background()
	req := request(reg, "acme/filter:stable")
	v1 := push(t, reg, "acme/filter:stable", oci.FormatCNCF, module("v1"))
	if res, err := f.Resolve(ctx, req); err != nil || res.Digest != v1 {
		t.Fatalf("Resolve = %v, %v; want %s", res.Digest, err, v1)
	}
	v2 := push(t, reg, "acme/filter:stable", oci.FormatCNCF, module("v2"))
	res, err := f.Resolve(ctx, req)
	if err != nil || res.Digest != v2 || v2 == v1 {
		t.Fatalf("Resolve after re-tag = %v, %v; want %s", res.Digest, err, v2)
	}
	for d, want := range map[digest.Digest]string{v1: "v1", v2: "v2"} {
		m, err := f.Fetch(ctx, req, d)
		if err != nil || !bytes.Equal(m.Wasm, module(want)) {
			t.Fatalf("Fetch %s = %v; want %s", d, err, want)
		}
	}
}

func TestDigestPinned(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	ctx := context.Background()
	d := push(t, reg, "acme/filter:1.0", oci.FormatWasmToOCI, module("pinned"))
	push(t, reg, "acme/filter:1.0", oci.FormatWasmToOCI, module("moved on"))
	for _, image := range []string{"acme/filter@" + d.String(), "acme/filter:1.0@" + d.String()} {
		req := request(reg, image)
		res, err := f.Resolve(ctx, req)
		if err != nil || res.Digest != d {
			t.Fatalf("Resolve %s = %v, %v", image, res.Digest, err)
		}
		m, err := f.Fetch(ctx, req, "") // empty digest: the image's
		if err != nil || !bytes.Equal(m.Wasm, module("pinned")) {
			t.Fatalf("Fetch %s = %v", image, err)
		}
	}
	missing := digest.FromString("nothing")
	_, err := f.Resolve(ctx, request(reg, "acme/filter@"+missing.String()))
	wantErr(t, err, oci.ErrNotFound, missing.String())
}

// TestFetchLayout: Fetch says how the artifact is packed, which decides
// whether a proxy could pull it itself (delivery Registry).
func TestFetchLayout(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	for _, tc := range []struct {
		name   string
		format oci.Format
		opts   []ocitest.PushOption
		layers int
		gzip   bool
	}{
		{"cncf", oci.FormatCNCF, nil, 1, false},
		{"docker-image", oci.FormatDockerImage, nil, 2, true}, // the fixture has a base layer
		{"oci-image-tar", oci.FormatOCIImage, []ocitest.PushOption{ocitest.Gzip(false)}, 2, false},
		{"solo", oci.FormatSolo, nil, 1, false}, // config in the manifest's config, not a layer
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := push(t, reg, "layout/"+tc.name+":v1", tc.format, module(tc.name), tc.opts...)
			m, err := f.Fetch(context.Background(), request(reg, "layout/"+tc.name+":v1"), d)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Layout.LayerMediaTypes) != tc.layers || m.Layout.LayerGzip != tc.gzip {
				t.Fatalf("layout = %+v, want %d layers, gzip %v", m.Layout, tc.layers, tc.gzip)
			}
		})
	}
}
