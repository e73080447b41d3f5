package render

import (
	istioext "istio.io/api/extensions/v1alpha1"
	istiotype "istio.io/api/type/v1beta1"
	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// WasmPlugin renders the extensions.istio.io/v1alpha1 WasmPlugin for ext.
// The object has ext's name and namespace and a controller owner reference
// to ext, so it is garbage-collected with it (see preamble). The proxies
// fetch m.CacheURL and check m.SHA256 when CacheURL is set, and pull m.URL()
// otherwise (see moduleFetch).
func WasmPlugin(ext *v1alpha1.WasmExtension, m Module) (*clientext.WasmPlugin, error) {
	h, err := preamble(ext, m, kindWasmPlugin)
	if err != nil {
		return nil, err
	}
	spec := &ext.Spec
	wp := &clientext.WasmPlugin{TypeMeta: h.typeMeta, ObjectMeta: h.objectMeta}
	wp.Spec = istioext.WasmPlugin{
		Selector:        selector(spec.Selector),
		TargetRefs:      targetRefs(spec.TargetRefs),
		Url:             h.fetch.url,
		Sha256:          h.fetch.sha256,
		ImagePullPolicy: h.fetch.pullPolicy,
		ImagePullSecret: h.fetch.pullSecret,
		PluginConfig:    h.pluginConfig,
		PluginName:      spec.PluginName,
		Phase:           wasmPluginPhase(spec.Phase),
		Priority:        priority(spec.Priority),
		FailStrategy:    failStrategy(spec.FailStrategy),
		VmConfig:        vmConfig(spec.Env),
		Match:           wasmPluginMatch(spec.Match),
		Type:            pluginType(spec.Type),
	}
	return wp, nil
}

func wasmPluginPhase(p v1alpha1.PluginPhase) istioext.PluginPhase {
	return byPhase(p, [...]istioext.PluginPhase{
		istioext.PluginPhase_AUTHN, istioext.PluginPhase_AUTHZ, istioext.PluginPhase_STATS, istioext.PluginPhase_UNSPECIFIED_PHASE,
	})
}

func wasmPluginMatch(sel []v1alpha1.TrafficSelector) []*istioext.WasmPlugin_TrafficSelector {
	return trafficSelectors(sel, func(mode istiotype.WorkloadMode, ports []*istiotype.PortSelector) *istioext.WasmPlugin_TrafficSelector {
		return &istioext.WasmPlugin_TrafficSelector{Mode: mode, Ports: ports}
	})
}
