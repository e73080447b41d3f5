package oci_test

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpora under testdata/fuzz")

// seed is one committed corpus entry: a file name and the fuzz arguments.
type seed struct {
	name string
	args []any // string or []byte, in the fuzz function's order
}

// encodeSeed renders args in go's corpus file format ("go test fuzz v1").
func encodeSeed(args []any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		default:
			panic(fmt.Sprintf("seed argument of type %T", a))
		}
	}
	return b.Bytes()
}

// TestFuzzCorpus fails when a seed under testdata/fuzz is missing or stale;
// `go test ./internal/oci -run TestFuzzCorpus -update-corpus` rewrites them.
// Other files there (crashers go test -fuzz found) are left alone; plain
// go test replays all of them.
func TestFuzzCorpus(t *testing.T) {
	for target, seeds := range map[string][]seed{
		"FuzzSelectFormat":                   manifestSeeds(t),
		"FuzzSelectPlatform":                 indexSeeds(),
		"FuzzExtractPluginWasm":              layerSeeds(t),
		"FuzzParseReference":                 referenceSeeds(),
		"FuzzCredentialFromDockerConfigJSON": pullSecretSeeds(),
	} {
		for _, s := range seeds {
			file := filepath.Join("testdata", "fuzz", target, s.name)
			want := encodeSeed(s.args)
			if *updateCorpus {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, want) {
				t.Errorf("seed %s is missing or stale (%v); run go test ./internal/oci -run TestFuzzCorpus -update-corpus", file, err)
			}
		}
	}
}

// manifestSeeds are (content type, manifest) pairs: what ocitest pushes
// for every format, and manifests shaped like real tools' output.
func manifestSeeds(t *testing.T) []seed {
	var seeds []seed
	add := func(name, contentType string, m ocitest.Manifest) {
		raw, err := ocitest.ManifestJSON(m)
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" { // the media type only in the Content-Type, as Docker's schema2 allows
			raw = bytes.Replace(raw, []byte(fmt.Sprintf(`"mediaType":%q,`, contentType)), nil, 1)
		}
		seeds = append(seeds, seed{name, []any{contentType, string(raw)}})
	}
	for _, tc := range []struct {
		name   string
		format oci.Format
		opts   []ocitest.PushOption
	}{
		{"cncf", oci.FormatCNCF, nil},
		{"wasm-to-oci", oci.FormatWasmToOCI, nil},
		{"solo", oci.FormatSolo, nil},
		{"solo-no-config", oci.FormatSolo, []ocitest.PushOption{ocitest.SoloConfig(false)}},
		{"docker-image-gzip", oci.FormatDockerImage, nil},
		{"docker-image-tar", oci.FormatDockerImage, []ocitest.PushOption{ocitest.Gzip(false)}},
		{"oci-image-gzip", oci.FormatOCIImage, nil},
		{"oci-image-tar", oci.FormatOCIImage, []ocitest.PushOption{ocitest.Gzip(false)}},
	} {
		m, err := ocitest.BuildManifest(tc.format, wasmtest.ProxyWasm, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		add(tc.name, "", m)
		add(tc.name+"-by-content-type", m.MediaType, m)
	}
	helm := ocitest.Manifest{Layers: []ocitest.Blob{{MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", Data: []byte("chart")}}}
	add("helm-chart", "", helm)
	return append(seeds, realManifestSeeds()...)
}

// realManifestSeeds are shaped like what wasm-to-oci, oras, buildx and
// wkg push: annotations, artifactType, subject, zstd layers.
func realManifestSeeds() []seed {
	const d1 = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
	const d2 = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	return []seed{
		{"oras-artifact", []any{ocispec.MediaTypeImageManifest, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/wasm","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="},"layers":[{"mediaType":"application/wasm","digest":"` + d1 + `","size":479,"annotations":{"org.opencontainers.image.title":"plugin.wasm"}}],"annotations":{"org.opencontainers.image.created":"2024-05-01T10:00:00Z"}}`}},
		{"wkg-component", []any{"", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.wasm.config.v0+json","digest":"` + d2 + `","size":220},"layers":[{"mediaType":"application/wasm","digest":"` + d1 + `","size":19427}],"annotations":{"org.opencontainers.image.version":"0.1.0"}}`}},
		{"signature-subject", []any{"", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + d2 + `","size":2},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"` + d1 + `","size":250}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d1 + `","size":600}}`}},
		{"zstd-image", []any{"", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + d2 + `","size":400},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"` + d1 + `","size":1200}]}`}},
		{"schema1", []any{"application/vnd.docker.distribution.manifest.v1+prettyjws", `{"schemaVersion":1,"name":"acme/filter","tag":"1.0","architecture":"amd64","fsLayers":[{"blobSum":"` + d1 + `"}],"history":[],"signatures":[]}`}},
		{"html-login-page", []any{"text/html", "<!DOCTYPE html><html><body>Sign in</body></html>"}},
	}
}

// indexSeeds are (content type, index) pairs shaped like buildx and
// manifest-tool output.
func indexSeeds() []seed {
	entry := func(d, platform, extra string) string {
		p := strings.Split(platform+"//", "/")
		return fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":1052,"platform":{"os":%q,"architecture":%q,"variant":%q}%s}`,
			strings.Repeat(d, 64), p[0], p[1], p[2], extra)
	}
	idx := func(mt string, entries ...string) string {
		return fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[%s]}`, mt, strings.Join(entries, ","))
	}
	attestation := `,"annotations":{"vnd.docker.reference.digest":"sha256:` + strings.Repeat("a", 64) + `","vnd.docker.reference.type":"attestation-manifest"}`
	return []seed{
		{"buildx-wasi-with-attestation", []any{ocispec.MediaTypeImageIndex, idx(ocispec.MediaTypeImageIndex, entry("a", "wasi/wasm", ""), entry("b", "unknown/unknown", attestation))}},
		{"multi-arch-and-wasip1", []any{"", idx(ocispec.MediaTypeImageIndex, entry("1", "linux/amd64", ""), entry("2", "linux/arm64/v8", ""), entry("3", "wasip1/wasm", ""))}},
		{"docker-list-linux-only", []any{oci.MediaTypeDockerManifestList, idx(oci.MediaTypeDockerManifestList, entry("c", "linux/amd64", ""), entry("d", "windows/amd64", `,"urls":["https://example.com/layer"]`))}},
		{"wasip2-component", []any{"", idx(ocispec.MediaTypeImageIndex, entry("e", "wasip2/wasm", ""))}},
	}
}

// layerSeeds are real image layers: what ocitest pushes (tar and tar+gzip
// around a real module) and layers with the entry kinds image builders
// emit (directories, PAX long names, symlinks, whiteouts).
func layerSeeds(t *testing.T) []seed {
	layer := func(gz bool, files ...ocitest.File) []any {
		b, err := ocitest.TarLayer(gz, files...)
		if err != nil {
			t.Fatal(err)
		}
		return []any{b}
	}
	plugin := ocitest.File{Name: "plugin.wasm", Data: wasmtest.ProxyWasm}
	long := strings.Repeat("very-long-directory-name/", 8) + "plugin.wasm"
	return []seed{
		{"image-gzip", layer(true, plugin)},
		{"image-tar", layer(false, plugin)},
		{"assemblyscript-gzip", layer(true, ocitest.File{Name: "./plugin.wasm", Data: wasmtest.AssemblyScript})},
		{"base-layer", layer(true, ocitest.File{Name: "etc/", Type: tar.TypeDir}, ocitest.File{Name: "etc/os-release", Data: []byte("ID=scratch\n")},
			ocitest.File{Name: "bin/sh", Type: tar.TypeSymlink, Link: "busybox"})},
		{"dirs-and-long-names", layer(true, ocitest.File{Name: "./", Type: tar.TypeDir}, ocitest.File{Name: long, Data: []byte("shadow")},
			ocitest.File{Name: ".wh.old.wasm", Data: nil}, ocitest.File{Name: "./plugin.wasm", Data: wasmtest.ConfigureFails})},
		{"shadowed", layer(false, ocitest.File{Name: "lib/plugin.wasm", Data: []byte("other")}, plugin)},
		{"hardlink", layer(true, ocitest.File{Name: "module.wasm", Data: wasmtest.ProxyWasm}, ocitest.File{Name: "plugin.wasm", Type: tar.TypeLink, Link: "module.wasm"})},
		{"twice", layer(true, plugin, ocitest.File{Name: "./plugin.wasm", Data: wasmtest.ProxyWasmV2})},
	}
}

func referenceSeeds() []seed {
	var seeds []seed
	for i, s := range []string{
		"ghcr.io/acme/filters/auth:v1.2.3", "docker.io/library/filter@sha256:" + hexA, "registry-1.docker.io/istio/wasm:1.0@sha256:" + hexA,
		"localhost:5000/a/b/c/d:latest", "[::1]:5000/x:y", "oci://reg.example:443/acme/filter:1.0", "reg.example/acme/filter:" + strings.Repeat("t", 128),
	} {
		seeds = append(seeds, seed{fmt.Sprintf("real-%d", i), []any{s}})
	}
	return seeds
}

func pullSecretSeeds() []seed {
	return []seed{
		{"kubectl-created", []any{[]byte(`{"auths":{"ghcr.io":{"username":"bot","password":"ghp_x","email":"bot@example.com","auth":"` + b64("bot:ghp_x") + `"}}}`), "ghcr.io"}},
		{"docker-hub-legacy-key", []any{[]byte(`{"auths":{"https://index.docker.io/v1/":{"auth":"` + b64("u:p") + `"}}}`), "registry-1.docker.io"}},
		{"cred-helpers-only", []any{[]byte(`{"credHelpers":{"123456789012.dkr.ecr.us-east-1.amazonaws.com":"ecr-login"},"auths":{}}`), "123456789012.dkr.ecr.us-east-1.amazonaws.com"}},
		{"registry-token", []any{[]byte(`{"auths":{"reg.io:5000":{"registrytoken":"eyJhbGciOi"}}}`), "reg.io:5000"}},
	}
}
