package render_test

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/render"
)

func TestPluginConfiguration(t *testing.T) {
	cases := []struct {
		name, raw  string
		kind       v1alpha1.OutputKind
		want       string
		wantNil    bool
		wantRefuse bool
	}{
		{name: "none", kind: v1alpha1.OutputWasmPlugin, wantNil: true},
		{name: "empty object", raw: `{}`, kind: v1alpha1.OutputWasmPlugin, wantNil: true},
		{name: "null", raw: `null`, kind: v1alpha1.OutputEnvoyFilter, wantNil: true},
		{name: "envoyfilter keeps digits and order", raw: `{"z": 1, "a": 12345678901234567}`, kind: v1alpha1.OutputEnvoyFilter,
			want: `{"z":1,"a":12345678901234567}`},
		{name: "wasmplugin is a Struct: sorted, doubles", raw: `{"z": 1, "a": 12345678901234567}`, kind: v1alpha1.OutputWasmPlugin,
			want: `{"a":12345678901234568,"z":1}`},
		{name: "trafficextension like wasmplugin", raw: `{"deny": ["/admin"]}`, kind: v1alpha1.OutputTrafficExtension,
			want: `{"deny":["/admin"]}`},
		{name: "not an object", raw: `[1]`, kind: v1alpha1.OutputWasmPlugin, wantRefuse: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := &v1alpha1.WasmExtensionSpec{}
			if c.raw != "" {
				spec.PluginConfig = &apiextensionsv1.JSON{Raw: []byte(c.raw)}
			}
			got, err := render.PluginConfiguration(spec, c.kind)
			switch {
			case c.wantRefuse:
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
			case err != nil:
				t.Fatal(err)
			case c.wantNil && got != nil:
				t.Errorf("got %q, want nil (zero bytes)", got)
			case !c.wantNil && string(got) != c.want:
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}
