package render

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	istioext "istio.io/api/extensions/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"
	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

var (
	testSHA256     = strings.Repeat("ab", 32)
	registryModule = Module{Repository: "r.example/acme/f", Digest: "sha256:" + strings.Repeat("c", 64), SHA256: testSHA256}
	cachedModule   = Module{Repository: registryModule.Repository, Digest: registryModule.Digest, SHA256: testSHA256,
		CacheURL: "http://wasmext.wasmext-system.svc:8080/m/" + testSHA256}
)

// fetchOf reads back what a rendered WasmPlugin or TrafficExtension tells
// the proxies about fetching the module.
func fetchOf(t *testing.T, kind string, ext *v1alpha1.WasmExtension, m Module) (proxyFetch, error) {
	t.Helper()
	if kind == "WasmPlugin" {
		wp, err := WasmPlugin(ext, m)
		if err != nil {
			return proxyFetch{}, err
		}
		return proxyFetch{wp.Spec.Url, wp.Spec.Sha256, wp.Spec.ImagePullPolicy, wp.Spec.ImagePullSecret}, nil
	}
	te, err := TrafficExtension(ext, m)
	if err != nil {
		return proxyFetch{}, err
	}
	w := te.Spec.GetWasm()
	return proxyFetch{w.Url, w.Sha256, w.ImagePullPolicy, w.ImagePullSecret}, nil
}

func TestDelivery(t *testing.T) {
	ext := &v1alpha1.WasmExtension{}
	ext.Name, ext.Namespace = "x", "ns"
	ext.Spec.Module.PullSecretRef = &v1alpha1.LocalObjectReference{Name: "regcred"}
	ext.Spec.ImagePullPolicy = v1alpha1.PullAlways
	tests := []struct {
		name string
		m    Module
		want proxyFetch
	}{
		{"cache: module server URL and sha256, no credentials", cachedModule, proxyFetch{url: cachedModule.CacheURL, sha256: testSHA256}},
		{"registry: pinned oci URL, no sha256", registryModule, proxyFetch{registryModule.URL(), "", istioext.PullPolicy_Always, "regcred"}},
	}
	for _, kind := range []string{"WasmPlugin", "TrafficExtension"} {
		for _, tc := range tests {
			got, err := fetchOf(t, kind, ext, tc.m)
			if err != nil {
				t.Fatalf("%s %s: %v", kind, tc.name, err)
			}
			if got != tc.want {
				t.Errorf("%s %s: got %+v, want %+v", kind, tc.name, got, tc.want)
			}
		}
	}
}

func TestDeliveryRefused(t *testing.T) {
	ext := &v1alpha1.WasmExtension{}
	ext.Name, ext.Namespace = "x", "ns"
	with := func(url, sum string) Module { m := cachedModule; m.CacheURL, m.SHA256 = url, sum; return m }
	bad := map[string]Module{
		"oci URL":           with("oci://r.example/acme/f@"+registryModule.Digest, testSHA256),
		"no scheme":         with("wasmext.svc/m/x", testSHA256),
		"ftp":               with("ftp://wasmext.svc/m/x", testSHA256),
		"no host":           with("http:///m/x", testSHA256),
		"not a URL":         with("http://[::1/m", testSHA256),
		"no sha256":         with(cachedModule.CacheURL, ""),
		"uppercase sha256":  with(cachedModule.CacheURL, strings.ToUpper(testSHA256)),
		"digest as sha256":  with(cachedModule.CacheURL, "sha256:"+testSHA256),
		"registry, bad sum": with("", "abc"),
	}
	for name, m := range bad {
		for _, kind := range []string{"WasmPlugin", "TrafficExtension"} {
			if _, err := fetchOf(t, kind, ext, m); !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("%s with %s: err = %v, want ErrInvalidSpec", kind, name, err)
			}
		}
		if _, err := EnvoyFilters(ext, m, goldenEFOptions); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("EnvoyFilters with %s: err = %v, want ErrInvalidSpec", name, err)
		}
	}
	for _, m := range []Module{cachedModule, with("https://m.example:8443/x", testSHA256), registryModule, with("", "")} {
		if _, err := fetchOf(t, "WasmPlugin", ext, m); err != nil {
			t.Errorf("WasmPlugin(%+v): %v", m, err)
		}
	}
}

// TestEmptyPluginConfigSameInEveryOutput checks what the plugin receives in
// proxy_on_configure from each output, given what Istio does with a
// WasmPlugin or TrafficExtension pluginConfig (pilot/pkg/model: a Struct
// with no fields gives an empty configuration, any other its JSON).
func TestEmptyPluginConfigSameInEveryOutput(t *testing.T) {
	for _, raw := range []string{"", "null", "{}", " { } ", `{"header":"x-a","n":[1,2.5],"o":{}}`} {
		ext := &v1alpha1.WasmExtension{}
		ext.Name, ext.Namespace = "x", "ns"
		if raw != "" {
			ext.Spec.PluginConfig = &apiextensionsv1.JSON{Raw: []byte(raw)}
		}
		wp, err := WasmPlugin(ext, cachedModule)
		if err != nil {
			t.Fatal(err)
		}
		te, err := TrafficExtension(ext, cachedModule)
		if err != nil {
			t.Fatal(err)
		}
		efs, err := EnvoyFilters(ext, cachedModule, goldenEFOptions)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{
			"WasmPlugin":       istioSends(t, wp.Spec.PluginConfig),
			"TrafficExtension": istioSends(t, te.Spec.GetWasm().PluginConfig),
			"EnvoyFilter":      envoyFilterSends(t, efs),
		}
		empty := !strings.Contains(raw, "x-a")
		if empty && (wp.Spec.PluginConfig != nil || te.Spec.GetWasm().PluginConfig != nil) {
			t.Errorf("pluginConfig %q: rendered a pluginConfig (WasmPlugin %t, TrafficExtension %t), want none",
				raw, wp.Spec.PluginConfig != nil, te.Spec.GetWasm().PluginConfig != nil)
		}
		for kind, got := range seen {
			if empty && got != "" {
				t.Errorf("pluginConfig %q: %s sends the plugin %q, want nothing", raw, kind, got)
			}
			if !empty && !sameJSON(got, raw) {
				t.Errorf("pluginConfig %q: %s sends the plugin %q", raw, kind, got)
			}
		}
	}
}

func istioSends(t *testing.T, s *structpb.Struct) string {
	t.Helper()
	if s == nil || len(s.Fields) == 0 {
		return ""
	}
	b, err := protojson.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// envoyFilterSends is the configuration of the Wasm filter in the
// EXTENSION_CONFIG patch, which Envoy passes on unwrapped.
func envoyFilterSends(t *testing.T, efs []*clientnet.EnvoyFilter) string {
	t.Helper()
	for _, ef := range efs {
		for _, p := range ef.Spec.ConfigPatches {
			if p.ApplyTo != networking.EnvoyFilter_EXTENSION_CONFIG {
				continue
			}
			cfg := p.Patch.Value.Fields["typed_config"].GetStructValue().GetFields()["config"].GetStructValue()
			if cfg == nil {
				t.Fatalf("no typed_config.config in %v", p.Patch.Value)
			}
			return cfg.Fields["configuration"].GetStructValue().GetFields()["value"].GetStringValue()
		}
	}
	t.Fatal("no EXTENSION_CONFIG patch")
	return ""
}

func sameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}
