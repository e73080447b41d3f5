package render

import (
	"encoding/json"
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	httpwasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	networkwasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/wasm/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// wasmRuntime is the Wasm engine Istio's proxies ship (and WasmPlugin uses).
const wasmRuntime = "envoy.wasm.runtime.v8"

// Type URLs a config_discovery filter accepts. Besides the Wasm filter, the
// RBAC filter of the same level: when istio-agent cannot fetch a module it
// replaces the extension config with an allow-all (fail open) or deny-all
// (fail closed) RBAC filter of the same name, and Envoy rejects an ECDS
// resource whose type is not listed. Istio lists the same pair.
var (
	httpWasmTypeURL    = typeURL(&httpwasmv3.Wasm{})
	networkWasmTypeURL = typeURL(&networkwasmv3.Wasm{})
)

const (
	httpRBACTypeURL    = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
	networkRBACTypeURL = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC"
)

func typeURL(m proto.Message) string {
	return "type.googleapis.com/" + string(m.ProtoReflect().Descriptor().FullName())
}

// filterValue is the HTTP (network) filter the filter patch inserts: a name
// and a config_discovery source. The config comes over ADS (from istiod,
// which serves the EXTENSION_CONFIG patch), and initial_fetch_timeout 0
// keeps the listener warming until it has arrived, so no request passes
// before the filter is in place (as Istio does for WasmPlugins).
func filterValue(t v1alpha1.PluginType, name string) (*structpb.Struct, error) {
	types := []string{httpWasmTypeURL, httpRBACTypeURL}
	if t == v1alpha1.PluginTypeNetwork {
		types = []string{networkWasmTypeURL, networkRBACTypeURL}
	}
	src, err := protoObject(&corev3.ExtensionConfigSource{
		ConfigSource: &corev3.ConfigSource{
			ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
			InitialFetchTimeout:   durationpb.New(0),
			ResourceApiVersion:    corev3.ApiVersion_V3,
		},
		TypeUrls: types,
	})
	if err != nil {
		return nil, err
	}
	return patchValue(map[string]any{"name": name, "config_discovery": src})
}

// extensionConfigValue is the EXTENSION_CONFIG patch value: a
// TypedExtensionConfig named like the filter, holding the Wasm filter.
func extensionConfigValue(ext *v1alpha1.WasmExtension, name string, opts EnvoyFilterOptions) (*structpb.Struct, error) {
	pc, err := wasmPluginConfig(ext, name, opts)
	if err != nil {
		return nil, err
	}
	var filter proto.Message = &httpwasmv3.Wasm{Config: pc}
	if ext.Spec.Type == v1alpha1.PluginTypeNetwork {
		filter = &networkwasmv3.Wasm{Config: pc}
	}
	typed, err := anypb.New(filter)
	if err != nil {
		return nil, fmt.Errorf("render: wasm filter config: %w", err)
	}
	obj, err := protoObject(&corev3.TypedExtensionConfig{Name: name, TypedConfig: typed})
	if err != nil {
		return nil, err
	}
	return patchValue(obj)
}

// wasmPluginConfig is the Envoy Wasm PluginConfig for ext, with the code
// fetched from opts.ModuleURL.
func wasmPluginConfig(ext *v1alpha1.WasmExtension, name string, opts EnvoyFilterOptions) (*wasmv3.PluginConfig, error) {
	spec := &ext.Spec
	cfg, err := configurationAny(spec)
	if err != nil {
		return nil, err
	}
	pc := &wasmv3.PluginConfig{
		Name:   name,
		RootId: spec.PluginName,
		Vm: &wasmv3.PluginConfig_VmConfig{VmConfig: &wasmv3.VmConfig{
			Runtime: wasmRuntime,
			Code: &corev3.AsyncDataSource{Specifier: &corev3.AsyncDataSource_Remote{Remote: &corev3.RemoteDataSource{
				HttpUri: &corev3.HttpUri{
					Uri:              opts.ModuleURL,
					HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: opts.Cluster},
					Timeout:          durationpb.New(opts.Timeout),
				},
				Sha256: opts.SHA256,
			}}},
			EnvironmentVariables: envoyEnv(spec.Env),
		}},
		Configuration: cfg,
		FailurePolicy: failurePolicy(spec.FailStrategy),
		// failure_policy (Envoy 1.33+) wins where it is known; older proxies
		// only read the deprecated fail_open, so set it too for FailOpen.
		FailOpen: spec.FailStrategy == v1alpha1.FailOpen, //nolint:staticcheck // for proxies older than failure_policy
	}
	if spec.Envoy != nil && spec.Envoy.AllowOnHeadersStopIteration != nil {
		pc.AllowOnHeadersStopIteration = wrapperspb.Bool(*spec.Envoy.AllowOnHeadersStopIteration)
	}
	return pc, nil
}

// configurationAny is pluginConfig as the plugin receives it in
// proxy_on_configure: the JSON text, in a StringValue (which Envoy passes
// through unwrapped). The JSON is the user's, compacted, so numbers keep
// every digit (a Struct would turn them into doubles). No pluginConfig, or
// an empty one ({} or null), gives no configuration: the plugin then sees a
// zero-length configuration, which is what Istio sends it for a WasmPlugin
// or TrafficExtension without pluginConfig or with {} (see
// pluginConfigObject).
func configurationAny(spec *v1alpha1.WasmExtensionSpec) (*anypb.Any, error) {
	b, err := PluginConfiguration(spec, v1alpha1.OutputEnvoyFilter)
	if err != nil || b == nil {
		return nil, err
	}
	a, err := anypb.New(wrapperspb.String(string(b)))
	if err != nil {
		return nil, fmt.Errorf("render: pluginConfig: %w", err)
	}
	return a, nil
}

func failurePolicy(f v1alpha1.FailStrategy) wasmv3.FailurePolicy {
	switch f {
	case v1alpha1.FailOpen:
		return wasmv3.FailurePolicy_FAIL_OPEN
	case v1alpha1.FailReload:
		return wasmv3.FailurePolicy_FAIL_RELOAD
	}
	return wasmv3.FailurePolicy_FAIL_CLOSED
}

// envoyEnv is spec.env as Envoy's VM environment: inline key/values and the
// names of proxy environment variables to copy.
func envoyEnv(env []v1alpha1.EnvVar) *wasmv3.EnvironmentVariables {
	if len(env) == 0 {
		return nil
	}
	ev := &wasmv3.EnvironmentVariables{}
	for _, e := range env {
		if e.ValueFrom == v1alpha1.EnvHost {
			ev.HostEnvKeys = append(ev.HostEnvKeys, e.Name)
			continue
		}
		if ev.KeyValues == nil {
			ev.KeyValues = map[string]string{}
		}
		ev.KeyValues[e.Name] = e.Value
	}
	return ev
}

// protoObject is m in proto JSON (proto field names, as Envoy's docs and
// Istio's examples write them; istiod accepts both spellings) as a generic
// JSON object, ready to become a patch value.
func protoObject(m proto.Message) (map[string]any, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("render: %T to JSON: %w", m, err)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("render: %T from JSON: %w", m, err)
	}
	return obj, nil
}
