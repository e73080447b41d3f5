package check

import (
	"errors"
	"testing"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/render"
)

// TestParsePluginConfig: a file as a user writes spec.pluginConfig, in JSON or YAML, reaches the
// module as the operator hands it over for each output.
func TestParsePluginConfig(t *testing.T) {
	for _, c := range []struct{ in, struc, envoyFilter string }{
		{`{"n": 12345678901234567, "header": "x-a"}`, `{"header":"x-a","n":12345678901234568}`, `{"n":12345678901234567,"header":"x-a"}`},
		{"header: x-a\nlimits:\n  rps: 10\n", `{"header":"x-a","limits":{"rps":10}}`, `{"header":"x-a","limits":{"rps":10}}`},
		{"{}", "", ""},
		{"null", "", ""},
		{"", "", ""},
	} {
		raw, err := ParsePluginConfig([]byte(c.in))
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		spec := &v1alpha1.WasmExtensionSpec{PluginConfig: raw}
		for kind, want := range map[v1alpha1.OutputKind]string{v1alpha1.OutputAuto: c.struc, v1alpha1.OutputEnvoyFilter: c.envoyFilter} {
			got, err := render.PluginConfiguration(spec, kind)
			if err != nil {
				t.Fatalf("%q %s: %v", c.in, kind, err)
			}
			if string(got) != want || (want == "" && got != nil) {
				t.Errorf("%q %s: got %q, want %q", c.in, kind, got, want)
			}
		}
	}
}

func TestParsePluginConfigRefusesNonObjects(t *testing.T) {
	for _, bad := range []string{"- a\n- b\n", "just a string", "a: [unclosed", "3"} {
		if _, err := ParsePluginConfig([]byte(bad)); !errors.Is(err, render.ErrInvalidSpec) {
			t.Errorf("%q: err %v, want render.ErrInvalidSpec", bad, err)
		}
	}
}
