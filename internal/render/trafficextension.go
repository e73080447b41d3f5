package render

import (
	istioext "istio.io/api/extensions/v1alpha1"
	istiotype "istio.io/api/type/v1beta1"
	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// TrafficExtension renders the extensions.istio.io/v1alpha1 TrafficExtension
// (Istio 1.32+, the successor of WasmPlugin) for ext, with a wasm filter
// config. Name, namespace, labels and owner reference are those of the
// WasmPlugin (see preamble), so switching outputs replaces one object by the
// other.
//
// The module is named as in a WasmPlugin (see moduleFetch): wasm.url is
// m.CacheURL with wasm.sha256 the .wasm's sha256 for delivery Cache, and
// the digest-pinned m.URL() with an empty wasm.sha256 for delivery Registry
// (the URL already pins the manifest digest, which is what Istio compares
// that field with for OCI images).
func TrafficExtension(ext *v1alpha1.WasmExtension, m Module) (*clientext.TrafficExtension, error) {
	h, err := preamble(ext, m, kindTrafficExtension)
	if err != nil {
		return nil, err
	}
	spec := &ext.Spec
	te := &clientext.TrafficExtension{TypeMeta: h.typeMeta, ObjectMeta: h.objectMeta}
	te.Spec = istioext.TrafficExtension{
		Selector:   selector(spec.Selector),
		TargetRefs: targetRefs(spec.TargetRefs),
		Phase:      trafficExtensionPhase(spec.Phase),
		Priority:   priority(spec.Priority),
		Match:      trafficExtensionMatch(spec.Match),
		FilterConfig: &istioext.TrafficExtension_Wasm{Wasm: &istioext.WasmConfig{
			Url:             h.fetch.url,
			Sha256:          h.fetch.sha256,
			ImagePullPolicy: h.fetch.pullPolicy,
			ImagePullSecret: h.fetch.pullSecret,
			PluginConfig:    h.pluginConfig,
			PluginName:      spec.PluginName,
			FailStrategy:    failStrategy(spec.FailStrategy),
			VmConfig:        vmConfig(spec.Env),
			Type:            pluginType(spec.Type),
		}},
	}
	return te, nil
}

func trafficExtensionPhase(p v1alpha1.PluginPhase) istioext.TrafficExtension_ExecutionPhase {
	return byPhase(p, [...]istioext.TrafficExtension_ExecutionPhase{
		istioext.TrafficExtension_AUTHN, istioext.TrafficExtension_AUTHZ, istioext.TrafficExtension_STATS, istioext.TrafficExtension_UNSPECIFIED,
	})
}

func trafficExtensionMatch(sel []v1alpha1.TrafficSelector) []*istioext.TrafficSelector {
	return trafficSelectors(sel, func(mode istiotype.WorkloadMode, ports []*istiotype.PortSelector) *istioext.TrafficSelector {
		return &istioext.TrafficSelector{Mode: mode, Ports: ports}
	})
}
