package render

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.out.yaml from the current renderers")

// goldenInput is the shape of testdata/<case>.in.yaml: an extension and the
// facts the controller would pass in. Every case is rendered by every
// renderer into testdata/<case>.<kind>.out.yaml (the object, or the error),
// unless kinds narrows it down.
type goldenInput struct {
	// Kinds lists the renderers to run (see goldenRenderers); empty: all.
	Kinds  []string `json:"kinds,omitempty"`
	Module Module   `json:"module"`
	// EnvoyFilter is passed as is to EnvoyFilters; absent, goldenEFOptions.
	EnvoyFilter *goldenOptions         `json:"envoyFilter,omitempty"`
	Extension   v1alpha1.WasmExtension `json:"extension"`
}

type goldenOptions struct {
	ModuleURL string          `json:"moduleURL,omitempty"`
	SHA256    string          `json:"sha256,omitempty"`
	Cluster   string          `json:"cluster,omitempty"`
	Timeout   metav1.Duration `json:"timeout,omitempty"`
}

// goldenEFOptions is what the operator's cache server would pass in.
var goldenEFOptions = EnvoyFilterOptions{
	ModuleURL: "http://wasmext.wasmext-system.svc.cluster.local:8080/modules/5d2f0c4e5b0b8e3e6b1a0f9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e",
	SHA256:    "5d2f0c4e5b0b8e3e6b1a0f9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e",
}

// goldenRenderers render a golden input into the object (or list) to
// compare, by output file infix.
var goldenRenderers = map[string]func(*goldenInput) (any, error){
	"wasmplugin": func(gi *goldenInput) (any, error) { return WasmPlugin(&gi.Extension, gi.Module) },
	"trafficextension": func(gi *goldenInput) (any, error) {
		return TrafficExtension(&gi.Extension, gi.Module)
	},
	"envoyfilter": func(gi *goldenInput) (any, error) {
		opts := goldenEFOptions
		if o := gi.EnvoyFilter; o != nil {
			opts = EnvoyFilterOptions{ModuleURL: o.ModuleURL, SHA256: o.SHA256, Cluster: o.Cluster, Timeout: o.Timeout.Duration}
		}
		return EnvoyFilters(&gi.Extension, gi.Module, opts)
	},
}

// TestGolden renders every testdata/*.in.yaml with every renderer and
// compares the result with testdata/<case>.<kind>.out.yaml. Run
// `go test ./internal/render -update` to rewrite the outputs after an
// intended change, then review the diff.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	want := map[string]bool{}
	for _, in := range inputs {
		gi := readGoldenInput(t, in)
		base := strings.TrimSuffix(in, ".in.yaml")
		for kind, render := range goldenRenderers {
			if len(gi.Kinds) > 0 && !slices.Contains(gi.Kinds, kind) {
				continue
			}
			out := base + "." + kind + ".out.yaml"
			want[out] = true
			t.Run(filepath.Base(base)+"/"+kind, func(t *testing.T) {
				obj, err := render(readGoldenInput(t, in))
				compareGolden(t, out, marshalGolden(t, obj, err))
			})
		}
	}
	outputs, _ := filepath.Glob("testdata/*.out.yaml")
	for _, out := range outputs {
		if !want[out] {
			t.Errorf("%s has no input or renderer any more; delete it", out)
		}
	}
}

func readGoldenInput(t *testing.T, path string) *goldenInput {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var gi goldenInput
	if err := yaml.UnmarshalStrict(raw, &gi); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	for _, k := range gi.Kinds {
		if goldenRenderers[k] == nil {
			t.Fatalf("%s: unknown kind %q", path, k)
		}
	}
	return &gi
}

func marshalGolden(t *testing.T, obj any, err error) []byte {
	t.Helper()
	if err != nil {
		obj = map[string]string{"error": err.Error()}
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing golden output (run with -update): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the renderer's output:\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}
