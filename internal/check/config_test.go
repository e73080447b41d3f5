package check

import (
	"errors"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/wasmext/wasmext/internal/render"
)

func TestPluginConfigBytes(t *testing.T) {
	for _, c := range []struct {
		name string
		raw  *apiextensionsv1.JSON
		want string // "" means nil
	}{
		{"absent", nil, ""},
		{"empty raw", &apiextensionsv1.JSON{}, ""},
		{"null", &apiextensionsv1.JSON{Raw: []byte(" null ")}, ""},
		{"empty object", &apiextensionsv1.JSON{Raw: []byte("{ }")}, ""},
		{"compacted, digits kept", &apiextensionsv1.JSON{Raw: []byte("{\n  \"id\": 12345678901234567,\n  \"b\": [1.50, \"x y\"]\n}")},
			`{"id":12345678901234567,"b":[1.50,"x y"]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := PluginConfigBytes(c.raw)
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" && got != nil {
				t.Fatalf("got %q, want nil (no configuration)", got)
			}
			if string(got) != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestPluginConfigBytesRefusesNonObjects(t *testing.T) {
	for _, raw := range []string{`[1]`, `"s"`, `3`, `{"a":`} {
		_, err := PluginConfigBytes(&apiextensionsv1.JSON{Raw: []byte(raw)})
		if !errors.Is(err, render.ErrInvalidSpec) {
			t.Errorf("%s: err %v, want render.ErrInvalidSpec", raw, err)
		}
	}
}

func TestParsePluginConfig(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"header": "x-a",  "n": 1.0}`, `{"header":"x-a","n":1.0}`}, // JSON kept as written
		{"header: x-a\nlimits:\n  rps: 10\n", `{"header":"x-a","limits":{"rps":10}}`},
		{"{}", ""},
		{"", ""},
	} {
		raw, err := ParsePluginConfig([]byte(c.in))
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		got, err := PluginConfigBytes(raw)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if string(got) != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"- a\n- b\n", "just a string", "a: [unclosed"} {
		if _, err := ParsePluginConfig([]byte(bad)); !errors.Is(err, render.ErrInvalidSpec) {
			t.Errorf("%q: err %v, want render.ErrInvalidSpec", bad, err)
		}
	}
}
