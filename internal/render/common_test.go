package render

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

func TestModuleURLIsDigestPinned(t *testing.T) {
	m := Module{Repository: "r.example/acme/f", Digest: "sha256:" + strings.Repeat("a", 64)}
	if got, want := m.URL(), "oci://r.example/acme/f@sha256:"+strings.Repeat("a", 64); got != want {
		t.Fatalf("URL() = %q, want %q", got, want)
	}
	ext := &v1alpha1.WasmExtension{}
	ext.Name, ext.Namespace = "x", "ns"
	renderers := map[string]func(Module) error{
		"WasmPlugin":       func(m Module) error { _, err := WasmPlugin(ext, m); return err },
		"TrafficExtension": func(m Module) error { _, err := TrafficExtension(ext, m); return err },
		"EnvoyFilters":     func(m Module) error { _, err := EnvoyFilters(ext, m, goldenEFOptions); return err },
	}
	for name, render := range renderers {
		if err := render(m); err != nil {
			t.Errorf("%s(pinned module): %v", name, err)
		}
		for _, bad := range []Module{{Repository: "r/x", Digest: "latest"}, {Digest: m.Digest}} {
			if err := render(bad); !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("%s(%+v) = %v, want ErrInvalidSpec: the module is not digest-pinned", name, bad, err)
			}
		}
	}
}

// TestRenderersShareObjectMeta checks that the three renderers start from
// the same preamble: the same name, namespace, labels and owner reference,
// so that switching outputs replaces one object by the other, and the module
// annotation only where the spec does not name the module.
func TestRenderersShareObjectMeta(t *testing.T) {
	ext := &v1alpha1.WasmExtension{}
	ext.Name, ext.Namespace, ext.UID = "x", "ns", "uid-1"
	m := Module{Repository: "r.example/acme/f", Digest: "sha256:" + strings.Repeat("a", 64)}
	wp, err := WasmPlugin(ext, m)
	if err != nil {
		t.Fatal(err)
	}
	te, err := TrafficExtension(ext, m)
	if err != nil {
		t.Fatal(err)
	}
	efs, err := EnvoyFilters(ext, m, goldenEFOptions)
	if err != nil {
		t.Fatal(err)
	}
	ef := efs[0]
	if got := ef.Annotations[AnnotationModule]; got != m.URL() {
		t.Errorf("EnvoyFilter annotation %s = %q, want %q", AnnotationModule, got, m.URL())
	}
	if wp.Annotations != nil || te.Annotations != nil {
		t.Errorf("annotations on WasmPlugin %v or TrafficExtension %v, want none", wp.Annotations, te.Annotations)
	}
	efMeta := ef.ObjectMeta.DeepCopy()
	efMeta.Annotations = nil
	if !equality.Semantic.DeepEqual(wp.ObjectMeta, te.ObjectMeta) || !equality.Semantic.DeepEqual(wp.ObjectMeta, *efMeta) {
		t.Errorf("ObjectMeta differs:\nWasmPlugin       %+v\nTrafficExtension %+v\nEnvoyFilter      %+v", wp.ObjectMeta, te.ObjectMeta, *efMeta)
	}
	if ow := wp.OwnerReferences; len(ow) != 1 || ow[0].UID != ext.UID || ow[0].Controller == nil || !*ow[0].Controller {
		t.Errorf("owner references %+v, want one controller reference to the extension", ow)
	}
	for kind, tm := range map[string]string{"WasmPlugin": wp.Kind, "TrafficExtension": te.Kind, "EnvoyFilter": ef.Kind} {
		if tm != kind {
			t.Errorf("Kind = %q, want %q", tm, kind)
		}
	}
}
