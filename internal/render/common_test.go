package render

import (
	"errors"
	"strings"
	"testing"

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
