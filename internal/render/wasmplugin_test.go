package render

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.out.yaml from the current renderer")

// goldenInput is the shape of testdata/*.in.yaml: an extension and the
// module facts the controller would pass in.
type goldenInput struct {
	Module    Module                  `json:"module"`
	Extension v1alpha1.WasmExtension `json:"extension"`
}

// TestWasmPluginGolden renders every testdata/*.in.yaml and compares it with
// the matching *.out.yaml. Run `go test ./internal/render -update` to rewrite
// the outputs after an intended change, then review the diff.
func TestWasmPluginGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var gi goldenInput
			if err := yaml.UnmarshalStrict(raw, &gi); err != nil {
				t.Fatalf("parse %s: %v", in, err)
			}
			got := renderGolden(t, &gi)
			out := strings.TrimSuffix(in, ".in.yaml") + ".out.yaml"
			if *update {
				if err := os.WriteFile(out, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("missing golden output (run with -update): %v", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from the renderer's output:\n--- want\n%s\n--- got\n%s", out, want, got)
			}
		})
	}
}

func renderGolden(t *testing.T, gi *goldenInput) []byte {
	t.Helper()
	wp, err := WasmPlugin(&gi.Extension, gi.Module)
	if err != nil {
		b, _ := yaml.Marshal(map[string]string{"error": err.Error()})
		return b
	}
	b, err := yaml.Marshal(wp)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

func TestModuleURLIsDigestPinned(t *testing.T) {
	m := Module{Repository: "r.example/acme/f", Digest: "sha256:" + strings.Repeat("a", 64)}
	if got, want := m.URL(), "oci://r.example/acme/f@sha256:"+strings.Repeat("a", 64); got != want {
		t.Fatalf("URL() = %q, want %q", got, want)
	}
	ext := &v1alpha1.WasmExtension{}
	ext.Name, ext.Namespace = "x", "ns"
	for _, bad := range []Module{{Repository: "r/x", Digest: "latest"}, {Digest: m.Digest}} {
		if _, err := WasmPlugin(ext, bad); err == nil {
			t.Errorf("WasmPlugin(%+v) rendered a module that is not digest-pinned", bad)
		}
	}
}
