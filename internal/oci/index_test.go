package oci

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// indexOf returns index JSON of media type mt with one entry per platform
// ("os/arch", "os/arch/variant", or "" for none); entry i gets digest
// sha256 of i repeated.
func indexOf(mt string, platforms ...string) string {
	var es []string
	for i, p := range platforms {
		d := "sha256:" + strings.Repeat(fmt.Sprintf("%x", i%16), 64)
		e := fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":500`, ocispec.MediaTypeImageManifest, d)
		if p != "" {
			parts := append(strings.Split(p, "/"), "")
			e += fmt.Sprintf(`,"platform":{"os":%q,"architecture":%q,"variant":%q}`, parts[0], parts[1], parts[2])
		}
		es = append(es, e+"}")
	}
	mtField := ""
	if mt != "" {
		mtField = fmt.Sprintf(`"mediaType":%q,`, mt)
	}
	return fmt.Sprintf(`{"schemaVersion":2,%s"manifests":[%s]}`, mtField, strings.Join(es, ","))
}

var selectPlatformTests = []struct {
	name, contentType, raw string
	indexed                bool
	want                   string // platform chosen; with wantErr, substrings of the error
	wantErr                error
}{
	{name: "manifest", raw: manifestOf(ocispec.MediaTypeImageManifest, MediaTypeCNCFConfig, MediaTypeCNCFLayer)},
	{name: "not json", raw: "<html>"},
	{name: "oci index", raw: indexOf(ocispec.MediaTypeImageIndex, "linux/amd64", "wasip1/wasm"), indexed: true, want: "wasip1/wasm"},
	{name: "docker list", raw: indexOf(MediaTypeDockerManifestList, "wasi/wasm"), indexed: true, want: "wasi/wasm"},
	{name: "wasip1 preferred", raw: indexOf(ocispec.MediaTypeImageIndex, "wasi/wasm", "wasip1/wasm"), indexed: true, want: "wasip1/wasm"},
	{name: "index by content type", contentType: ocispec.MediaTypeImageIndex, raw: indexOf("", "wasi/wasm32"), indexed: true, want: "wasi/wasm32"},
	{name: "index by manifests field", raw: indexOf("", "wasip1/wasm"), indexed: true, want: "wasip1/wasm"},
	{
		name: "no wasm platform", raw: indexOf(ocispec.MediaTypeImageIndex, "linux/amd64", "linux/arm64/v8", "linux/amd64", ""), indexed: true,
		want: "has no wasip1/wasm manifest; its platforms: linux/amd64, linux/arm64/v8, (none)", wantErr: ErrUnsupportedFormat,
	},
	{name: "wasip2 is a component", raw: indexOf(ocispec.MediaTypeImageIndex, "wasip2/wasm"), indexed: true, want: "platforms: wasip2/wasm", wantErr: ErrUnsupportedFormat},
	{name: "empty", raw: indexOf(ocispec.MediaTypeImageIndex), indexed: true, want: "none (the index is empty)", wantErr: ErrUnsupportedFormat},
	{name: "no manifests field", contentType: MediaTypeDockerManifestList, raw: `{"schemaVersion":2}`, indexed: true, want: "index is empty", wantErr: ErrUnsupportedFormat},
	{name: "manifests not a list", raw: `{"manifests":{"a":1}}`, indexed: true, want: "not a list of descriptors", wantErr: ErrUnsupportedFormat},
	{
		name: "many platforms", raw: indexOf(ocispec.MediaTypeImageIndex, "a/1", "a/2", "a/3", "a/4", "a/5", "a/6", "a/7", "a/8", "a/9", "a/10", "a/11", "a/12"), indexed: true,
		want: "a/9, a/10 and 2 more", wantErr: ErrUnsupportedFormat,
	},
	{
		name: "nested index", raw: `{"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"` + dgstA + `","size":9,"platform":{"os":"wasip1","architecture":"wasm"}}]}`,
		indexed: true, want: "index itself", wantErr: ErrUnsupportedFormat,
	},
	{
		name: "entry over the manifest cap", raw: `{"manifests":[{"digest":"` + dgstA + `","size":5000000,"platform":{"os":"wasip1","architecture":"wasm"}}]}`,
		indexed: true, want: "index entry wasip1/wasm is 5000000 bytes", wantErr: ErrTooLarge,
	},
	{
		name: "bad digest", raw: `{"manifests":[{"digest":"sha256:zz","size":5,"platform":{"os":"wasip1","architecture":"wasm"}}]}`,
		indexed: true, want: "invalid digest", wantErr: ErrUnsupportedFormat,
	},
	{
		name: "negative size", raw: `{"manifests":[{"digest":"` + dgstB + `","size":-5,"platform":{"os":"wasip1","architecture":"wasm"}}]}`,
		indexed: true, want: "negative size", wantErr: ErrUnsupportedFormat,
	},
}

func TestSelectPlatform(t *testing.T) {
	for _, tt := range selectPlatformTests {
		t.Run(tt.name, func(t *testing.T) {
			c, indexed, err := selectPlatform(tt.contentType, []byte(tt.raw))
			if indexed != tt.indexed {
				t.Fatalf("indexed = %v, want %v (err %v)", indexed, tt.indexed, err)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %v containing %q", err, tt.wantErr, tt.want)
				}
				return
			}
			if err != nil || c.Platform != tt.want {
				t.Fatalf("selectPlatform = %+v, %v; want platform %q", c, err, tt.want)
			}
			if tt.indexed && platformOf(c.Manifest) != tt.want {
				t.Errorf("manifest %+v is not the %s entry", c.Manifest, tt.want)
			}
		})
	}
}

func FuzzSelectPlatform(f *testing.F) {
	for _, tt := range selectPlatformTests {
		f.Add(tt.contentType, tt.raw)
	}
	f.Fuzz(func(t *testing.T, contentType, raw string) {
		c, indexed, err := selectPlatform(contentType, []byte(raw))
		switch {
		case !indexed && (err != nil || c.Platform != "" || c.Manifest.Digest != ""):
			t.Fatalf("not an index, yet %+v, %v", c, err)
		case err != nil:
			if !errors.Is(err, ErrUnsupportedFormat) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error: %v", err)
			}
		case indexed:
			m := c.Manifest
			if platformOf(m) != c.Platform || m.Digest.Validate() != nil || m.Size < 0 || m.Size > MaxManifestSize || isIndex(m.MediaType) {
				t.Fatalf("chose an unusable entry %+v", c)
			}
			if _, err := selectFormat(contentType, []byte(raw)); err == nil {
				t.Fatalf("selectFormat accepts %q as a manifest, selectPlatform as an index", raw)
			}
		}
	})
}
