package render

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	httprbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	httpwasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	networkrbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	networkwasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/wasm/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

var testModule = Module{Repository: "registry.example.com/acme/f", Digest: "sha256:" + strings.Repeat("4f", 32)}

func testExtension(mutate func(*v1alpha1.WasmExtensionSpec)) *v1alpha1.WasmExtension {
	ext := &v1alpha1.WasmExtension{}
	ext.Name, ext.Namespace, ext.UID = "add-header", "shop", "6a1c7e2f-0000-4000-8000-000000000001"
	ext.Spec.Module.Image = "registry.example.com/acme/f:1"
	if mutate != nil {
		mutate(&ext.Spec)
	}
	return ext
}

// fullSpec sets every field the EXTENSION_CONFIG patch carries.
func fullSpec(s *v1alpha1.WasmExtensionSpec) {
	s.PluginName = "root_id_x"
	s.PluginConfig = &apiextensionsv1.JSON{Raw: []byte(`{"header": "x-a", "n": 12345678901234567890, "nested": {"l": [1, "two", null]}}`)}
	s.Env = []v1alpha1.EnvVar{{Name: "MODE", Value: "strict"}, {Name: "POD_NAME", ValueFrom: v1alpha1.EnvHost}}
	s.FailStrategy = v1alpha1.FailOpen
	s.Envoy = &v1alpha1.EnvoyOptions{AllowOnHeadersStopIteration: ptr(true)}
	s.Output = v1alpha1.OutputEnvoyFilter
}

// patchesOf renders ext and returns its EXTENSION_CONFIG patch value and its
// filter patches.
func patchesOf(t *testing.T, ext *v1alpha1.WasmExtension, opts EnvoyFilterOptions) (*structpb.Struct, []*networking.EnvoyFilter_EnvoyConfigObjectPatch) {
	t.Helper()
	efs, err := EnvoyFilters(ext, testModule, opts)
	if err != nil {
		t.Fatalf("EnvoyFilters: %v", err)
	}
	if len(efs) != 1 {
		t.Fatalf("got %d EnvoyFilters, want 1", len(efs))
	}
	var ec *structpb.Struct
	var filters []*networking.EnvoyFilter_EnvoyConfigObjectPatch
	for _, p := range efs[0].Spec.ConfigPatches {
		if p.ApplyTo == networking.EnvoyFilter_EXTENSION_CONFIG {
			if ec != nil {
				t.Fatal("two EXTENSION_CONFIG patches")
			}
			ec = p.Patch.Value
			continue
		}
		filters = append(filters, p)
	}
	if ec == nil || len(filters) == 0 {
		t.Fatalf("want an EXTENSION_CONFIG patch and filter patches, got %v", efs[0].Spec.ConfigPatches)
	}
	return ec, filters
}

// parseValue decodes a patch value into the Envoy type istiod decodes it
// into, rejecting unknown fields, and runs Envoy's proto validation.
func parseValue(t *testing.T, v *structpb.Struct, into proto.Message) {
	t.Helper()
	b, err := protojson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := protojson.Unmarshal(b, into); err != nil {
		t.Fatalf("patch value is not a valid %T: %v\n%s", into, err, b)
	}
	if err := into.(interface{ ValidateAll() error }).ValidateAll(); err != nil {
		t.Fatalf("%T fails Envoy's validation: %v", into, err)
	}
}

// TestExtensionConfigRoundTrip reads the EXTENSION_CONFIG patch back with
// go-control-plane's registered types, which catches a wrong type URL or
// field name, and checks every field.
func TestExtensionConfigRoundTrip(t *testing.T) {
	opts := EnvoyFilterOptions{ModuleURL: "https://cache.example/m/x.wasm", SHA256: strings.Repeat("ab", 32), Cluster: "outbound|443||cache.example", Timeout: 7 * time.Second}
	for _, typ := range []v1alpha1.PluginType{v1alpha1.PluginTypeHTTP, v1alpha1.PluginTypeNetwork} {
		t.Run(string(typ), func(t *testing.T) {
			ext := testExtension(func(s *v1alpha1.WasmExtensionSpec) { fullSpec(s); s.Type = typ })
			value, _ := patchesOf(t, ext, opts)
			tec := &corev3.TypedExtensionConfig{}
			parseValue(t, value, tec)
			if tec.Name != FilterName(ext) {
				t.Errorf("name = %q, want %q", tec.Name, FilterName(ext))
			}
			pc := unpackWasm(t, tec, typ)
			checkPluginConfig(t, pc, ext, opts)
		})
	}
}

func unpackWasm(t *testing.T, tec *corev3.TypedExtensionConfig, typ v1alpha1.PluginType) *wasmv3.PluginConfig {
	t.Helper()
	msg, err := tec.TypedConfig.UnmarshalNew()
	if err != nil {
		t.Fatalf("typed_config %q does not resolve: %v", tec.TypedConfig.GetTypeUrl(), err)
	}
	if err := msg.(interface{ ValidateAll() error }).ValidateAll(); err != nil {
		t.Fatalf("%T fails Envoy's validation: %v", msg, err)
	}
	switch w := msg.(type) {
	case *httpwasmv3.Wasm:
		if typ != v1alpha1.PluginTypeHTTP {
			t.Fatalf("type %s rendered an HTTP Wasm filter", typ)
		}
		return w.Config
	case *networkwasmv3.Wasm:
		if typ != v1alpha1.PluginTypeNetwork {
			t.Fatalf("type %s rendered a network Wasm filter", typ)
		}
		return w.Config
	}
	t.Fatalf("typed_config is a %T, not a Wasm filter", msg)
	return nil
}

func checkPluginConfig(t *testing.T, pc *wasmv3.PluginConfig, ext *v1alpha1.WasmExtension, opts EnvoyFilterOptions) {
	t.Helper()
	vm := pc.GetVmConfig()
	remote := vm.GetCode().GetRemote()
	for _, c := range []struct{ field, got, want string }{
		{"name", pc.Name, FilterName(ext)},
		{"root_id", pc.RootId, ext.Spec.PluginName},
		{"vm_config.runtime", vm.GetRuntime(), "envoy.wasm.runtime.v8"},
		{"remote.http_uri.uri", remote.GetHttpUri().GetUri(), opts.ModuleURL},
		{"remote.http_uri.cluster", remote.GetHttpUri().GetCluster(), opts.Cluster},
		{"remote.http_uri.timeout", remote.GetHttpUri().GetTimeout().AsDuration().String(), opts.Timeout.String()},
		{"remote.sha256", remote.GetSha256(), opts.SHA256},
		{"failure_policy", pc.FailurePolicy.String(), "FAIL_OPEN"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if !pc.FailOpen { //nolint:staticcheck // checking the field older proxies read
		t.Error("fail_open = false for FailOpen")
	}
	if !proto.Equal(pc.AllowOnHeadersStopIteration, wrapperspb.Bool(true)) {
		t.Errorf("allow_on_headers_stop_iteration = %v, want true", pc.AllowOnHeadersStopIteration)
	}
	env := vm.GetEnvironmentVariables()
	if !reflect.DeepEqual(env.GetKeyValues(), map[string]string{"MODE": "strict"}) || !reflect.DeepEqual(env.GetHostEnvKeys(), []string{"POD_NAME"}) {
		t.Errorf("environment_variables = %v", env)
	}
	sv := &wrapperspb.StringValue{}
	if err := pc.Configuration.UnmarshalTo(sv); err != nil {
		t.Fatalf("configuration is not a StringValue: %v", err)
	}
	if got, want := jsonValue(t, sv.Value), jsonValue(t, string(ext.Spec.PluginConfig.Raw)); !reflect.DeepEqual(got, want) {
		t.Errorf("configuration = %s, want the JSON of %s", sv.Value, ext.Spec.PluginConfig.Raw)
	}
	if !strings.Contains(sv.Value, "12345678901234567890") {
		t.Errorf("configuration %s lost the digits of a big integer", sv.Value)
	}
}

func jsonValue(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, s)
	}
	return v
}

// TestFilterPatchAcceptsTheConfig checks that every filter a patch inserts
// is a valid Envoy HTTP (network) filter whose config_discovery accepts the
// type of the EXTENSION_CONFIG's typed_config, and the RBAC filter
// istio-agent swaps in when it cannot fetch the module; placeholders (see
// slotPatches) included, though no proxy ever sees them.
func TestFilterPatchAcceptsTheConfig(t *testing.T) {
	for _, c := range []struct {
		typ   v1alpha1.PluginType
		rbac  proto.Message
		apply networking.EnvoyFilter_ApplyTo
	}{
		{v1alpha1.PluginTypeHTTP, &httprbacv3.RBAC{}, networking.EnvoyFilter_HTTP_FILTER},
		{v1alpha1.PluginTypeNetwork, &networkrbacv3.RBAC{}, networking.EnvoyFilter_NETWORK_FILTER},
	} {
		t.Run(string(c.typ), func(t *testing.T) {
			ext := testExtension(func(s *v1alpha1.WasmExtensionSpec) {
				fullSpec(s)
				s.Type = c.typ
				s.Match = []v1alpha1.TrafficSelector{{Mode: v1alpha1.ModeServer, Ports: []v1alpha1.PortNumber{8080}}, {Mode: v1alpha1.ModeClient}}
			})
			value, filters := patchesOf(t, ext, goldenEFOptions)
			tec := &corev3.TypedExtensionConfig{}
			parseValue(t, value, tec)
			for _, p := range filters {
				if p.ApplyTo != c.apply {
					t.Errorf("applyTo = %v, want %v", p.ApplyTo, c.apply)
				}
				if p.Patch.Operation == networking.EnvoyFilter_Patch_REMOVE {
					continue
				}
				name, src := parseFilter(t, c.typ, p.Patch.Value)
				if name != tec.Name && name != placeholderName(tec.Name) {
					t.Errorf("filter %q asks ECDS for a config the EXTENSION_CONFIG patch does not name (%q)", name, tec.Name)
				}
				want := []string{tec.TypedConfig.TypeUrl, typeURL(c.rbac)}
				if !reflect.DeepEqual(src.TypeUrls, want) {
					t.Errorf("type_urls = %v, want %v", src.TypeUrls, want)
				}
				if src.ConfigSource.GetAds() == nil || src.ConfigSource.GetInitialFetchTimeout().AsDuration() != 0 {
					t.Errorf("config_source = %v, want ADS with initial_fetch_timeout 0s", src.ConfigSource)
				}
			}
		})
	}
}

func parseFilter(t *testing.T, typ v1alpha1.PluginType, v *structpb.Struct) (string, *corev3.ExtensionConfigSource) {
	t.Helper()
	if typ == v1alpha1.PluginTypeNetwork {
		f := &listenerv3.Filter{}
		parseValue(t, v, f)
		return f.Name, f.GetConfigDiscovery()
	}
	f := &hcmv3.HttpFilter{}
	parseValue(t, v, f)
	return f.Name, f.GetConfigDiscovery()
}

// TestInsertionPointsDoNotOverlap: whatever spec.match says, no listener
// matches two filter patches (it would get the filter twice).
func TestInsertionPointsDoNotOverlap(t *testing.T) {
	ports := func(p ...v1alpha1.PortNumber) []v1alpha1.PortNumber { return p }
	modes := []v1alpha1.WorkloadMode{"", v1alpha1.ModeClient, v1alpha1.ModeServer, v1alpha1.ModeClientAndServer}
	portSets := [][]v1alpha1.PortNumber{nil, ports(80), ports(80, 8080), ports(9090)}
	var selectors [][]v1alpha1.TrafficSelector
	for _, m1 := range modes {
		for _, p1 := range portSets {
			selectors = append(selectors, []v1alpha1.TrafficSelector{{Mode: m1, Ports: p1}})
			for _, m2 := range modes {
				for _, p2 := range portSets {
					selectors = append(selectors, []v1alpha1.TrafficSelector{{Mode: m1, Ports: p1}, {Mode: m2, Ports: p2}})
				}
			}
		}
	}
	overlap := func(a, b insertionPoint) bool {
		ctx := a.context == b.context || a.context == networking.EnvoyFilter_ANY || b.context == networking.EnvoyFilter_ANY
		return ctx && (a.port == b.port || a.port == 0 || b.port == 0)
	}
	for _, sel := range selectors {
		for _, gateway := range []bool{false, true} {
			points, err := insertionPoints(sel, gateway)
			if err != nil {
				continue
			}
			for i := range points {
				if gateway && points[i].context != networking.EnvoyFilter_GATEWAY {
					t.Errorf("%v on a gateway: context %v", sel, points[i].context)
				}
				for j := range i {
					if overlap(points[i], points[j]) {
						t.Errorf("%v: %v and %v overlap", sel, points[i], points[j])
					}
				}
			}
		}
	}
}

func TestEnvoyFilterErrors(t *testing.T) {
	good := goldenEFOptions
	for _, c := range []struct {
		name string
		ext  *v1alpha1.WasmExtension
		m    Module
		opts EnvoyFilterOptions
		want string
	}{
		{"not pinned", testExtension(nil), Module{Repository: "r/x", Digest: "latest"}, good, "not digest-pinned"},
		{"no url", testExtension(nil), testModule, EnvoyFilterOptions{SHA256: good.SHA256}, "needs the module's HTTP URL"},
		{"no sha256", testExtension(nil), testModule, EnvoyFilterOptions{ModuleURL: good.ModuleURL}, "needs the module's HTTP URL and SHA-256"},
		{"oci url", testExtension(nil), testModule, EnvoyFilterOptions{ModuleURL: testModule.URL(), SHA256: good.SHA256}, "not an http(s) URL"},
		{"no host", testExtension(nil), testModule, EnvoyFilterOptions{ModuleURL: "http:///x.wasm", SHA256: good.SHA256}, "not an http(s) URL"},
		{"manifest digest as sha256", testExtension(nil), testModule, EnvoyFilterOptions{ModuleURL: good.ModuleURL, SHA256: testModule.Digest}, "not 64 lowercase hex"},
		{"negative timeout", testExtension(nil), testModule, EnvoyFilterOptions{ModuleURL: good.ModuleURL, SHA256: good.SHA256, Timeout: -time.Second}, "negative"},
		{"service target", testExtension(func(s *v1alpha1.WasmExtensionSpec) {
			s.TargetRefs = []v1alpha1.PolicyTargetReference{{Kind: "Gateway", Name: "gw"}, {Kind: "Service", Name: "reviews"}}
		}), testModule, good, "waypoint"},
		{"serviceentry target", testExtension(func(s *v1alpha1.WasmExtensionSpec) {
			s.TargetRefs = []v1alpha1.PolicyTargetReference{{Kind: "ServiceEntry", Name: "api"}}
		}), testModule, good, "waypoint"},
		{"gateway server only", testExtension(func(s *v1alpha1.WasmExtensionSpec) {
			s.TargetRefs = []v1alpha1.PolicyTargetReference{{Kind: "Gateway", Name: "gw"}}
			s.Match = []v1alpha1.TrafficSelector{{Mode: v1alpha1.ModeServer}}
		}), testModule, good, "selects no gateway traffic"},
		{"config not an object", testExtension(func(s *v1alpha1.WasmExtensionSpec) {
			s.PluginConfig = &apiextensionsv1.JSON{Raw: []byte(`"text"`)}
		}), testModule, good, "must be a JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			efs, err := EnvoyFilters(c.ext, c.m, c.opts)
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("EnvoyFilters = %v, %v; want ErrInvalidSpec containing %q", efs, err, c.want)
			}
		})
	}
}

// TestEnvoyOptionsRefusedElsewhere: spec.envoy is never dropped silently.
func TestEnvoyOptionsRefusedElsewhere(t *testing.T) {
	ext := testExtension(fullSpec)
	if _, err := WasmPlugin(ext, testModule); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("WasmPlugin with spec.envoy: %v, want ErrInvalidSpec", err)
	}
	if _, err := TrafficExtension(ext, testModule); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("TrafficExtension with spec.envoy: %v, want ErrInvalidSpec", err)
	}
}

// TestServiceCluster: the code source's cluster is the module server's
// Istio service cluster, derived from the module URL.
func TestServiceCluster(t *testing.T) {
	for _, c := range []struct{ url, domain, want string }{
		{"http://wasmext-modules.wasmext-system.svc:8082/modules/x", "", "outbound|8082||wasmext-modules.wasmext-system.svc.cluster.local"},
		{"http://wasmext-modules.wasmext-system.svc/modules/x", "", "outbound|80||wasmext-modules.wasmext-system.svc.cluster.local"},
		{"https://Modules.Wasmext-System.SVC./m", "corp.internal", "outbound|443||modules.wasmext-system.svc.corp.internal"},
		{"http://wasmext-modules.wasmext-system.svc.cluster.local:8082/m", "", "outbound|8082||wasmext-modules.wasmext-system.svc.cluster.local"},
		{"https://cache.example.com/m", "", "outbound|443||cache.example.com"},
		{"http://10.0.0.7:9000/m", "", "outbound|9000||10.0.0.7"},
	} {
		ext := testExtension(nil)
		value, _ := patchesOf(t, ext, EnvoyFilterOptions{ModuleURL: c.url, SHA256: goldenEFOptions.SHA256, ClusterDomain: c.domain})
		tec := &corev3.TypedExtensionConfig{}
		parseValue(t, value, tec)
		pc := unpackWasm(t, tec, v1alpha1.PluginTypeHTTP)
		if got := pc.GetVmConfig().GetCode().GetRemote().GetHttpUri().GetCluster(); got != c.want {
			t.Errorf("%s (domain %q): cluster %q, want %q", c.url, c.domain, got, c.want)
		}
	}
}
