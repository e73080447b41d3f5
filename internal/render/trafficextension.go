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
// wasm.sha256 is left empty: the URL is already pinned to the manifest
// digest, which is what Istio compares that field with for OCI images.
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
			Url:             m.URL(),
			ImagePullPolicy: pullPolicy(spec.ImagePullPolicy),
			ImagePullSecret: pullSecret(spec.Module),
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
