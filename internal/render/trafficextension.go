package render

import (
	istioext "istio.io/api/extensions/v1alpha1"
	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// TrafficExtension renders the extensions.istio.io/v1alpha1 TrafficExtension
// (Istio 1.32+, the successor of WasmPlugin) for ext, with a wasm filter
// config. Name, namespace, labels and owner reference are those of the
// WasmPlugin, so switching outputs replaces one object by the other.
//
// wasm.sha256 is left empty: the URL is already pinned to the manifest
// digest, which is what Istio compares that field with for OCI images.
func TrafficExtension(ext *v1alpha1.WasmExtension, m Module) (*clientext.TrafficExtension, error) {
	if err := checkModule(m); err != nil {
		return nil, err
	}
	if err := checkNoEnvoyOptions(ext, "TrafficExtension"); err != nil {
		return nil, err
	}
	cfg, err := pluginConfig(ext.Spec.PluginConfig)
	if err != nil {
		return nil, err
	}
	spec := &ext.Spec
	te := &clientext.TrafficExtension{
		TypeMeta:   metav1.TypeMeta{APIVersion: clientext.SchemeGroupVersion.String(), Kind: "TrafficExtension"},
		ObjectMeta: objectMeta(ext),
	}
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
			PluginConfig:    cfg,
			PluginName:      spec.PluginName,
			FailStrategy:    failStrategy(spec.FailStrategy),
			VmConfig:        vmConfig(spec.Env),
			Type:            pluginType(spec.Type),
		}},
	}
	return te, nil
}

func trafficExtensionPhase(p v1alpha1.PluginPhase) istioext.TrafficExtension_ExecutionPhase {
	switch p {
	case v1alpha1.PhaseAuthn:
		return istioext.TrafficExtension_AUTHN
	case v1alpha1.PhaseAuthz:
		return istioext.TrafficExtension_AUTHZ
	case v1alpha1.PhaseStats:
		return istioext.TrafficExtension_STATS
	}
	return istioext.TrafficExtension_UNSPECIFIED
}

func trafficExtensionMatch(sel []v1alpha1.TrafficSelector) []*istioext.TrafficSelector {
	var out []*istioext.TrafficSelector
	for _, s := range sel {
		out = append(out, &istioext.TrafficSelector{Mode: workloadMode(s.Mode), Ports: portSelectors(s.Ports)})
	}
	return out
}
