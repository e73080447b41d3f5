package render

import (
	istioext "istio.io/api/extensions/v1alpha1"
	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// WasmPlugin renders the extensions.istio.io/v1alpha1 WasmPlugin for ext.
// The object has ext's name and namespace and a controller owner reference
// to ext, so it is garbage-collected with it.
func WasmPlugin(ext *v1alpha1.WasmExtension, m Module) (*clientext.WasmPlugin, error) {
	if err := checkModule(m); err != nil {
		return nil, err
	}
	if err := checkNoEnvoyOptions(ext, "WasmPlugin"); err != nil {
		return nil, err
	}
	cfg, err := pluginConfig(ext.Spec.PluginConfig)
	if err != nil {
		return nil, err
	}
	spec := &ext.Spec
	wp := &clientext.WasmPlugin{
		TypeMeta:   metav1.TypeMeta{APIVersion: clientext.SchemeGroupVersion.String(), Kind: "WasmPlugin"},
		ObjectMeta: objectMeta(ext),
	}
	wp.Spec = istioext.WasmPlugin{
		Selector:        selector(spec.Selector),
		TargetRefs:      targetRefs(spec.TargetRefs),
		Url:             m.URL(),
		ImagePullPolicy: pullPolicy(spec.ImagePullPolicy),
		ImagePullSecret: pullSecret(spec.Module),
		PluginConfig:    cfg,
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
	switch p {
	case v1alpha1.PhaseAuthn:
		return istioext.PluginPhase_AUTHN
	case v1alpha1.PhaseAuthz:
		return istioext.PluginPhase_AUTHZ
	case v1alpha1.PhaseStats:
		return istioext.PluginPhase_STATS
	}
	return istioext.PluginPhase_UNSPECIFIED_PHASE
}

func wasmPluginMatch(sel []v1alpha1.TrafficSelector) []*istioext.WasmPlugin_TrafficSelector {
	var out []*istioext.WasmPlugin_TrafficSelector
	for _, s := range sel {
		out = append(out, &istioext.WasmPlugin_TrafficSelector{Mode: workloadMode(s.Mode), Ports: portSelectors(s.Ports)})
	}
	return out
}
