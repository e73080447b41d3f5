// Package render turns a WasmExtension and the facts the operator verified
// about its module into the Istio objects that make proxies load it.
//
// Everything here is a pure function: no client, no clock, no network. What
// goes in fully decides what comes out, which is what the golden tests in
// testdata/ pin down. Applying the objects is the controller's job.
package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	istioext "istio.io/api/extensions/v1alpha1"
	istiotype "istio.io/api/type/v1beta1"
	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// Labels put on every rendered object.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelExtension = "wasmext.io/extension"
	ManagedBy      = "wasmext"
)

// ErrInvalidSpec marks a spec that cannot be expressed as the Istio object.
var ErrInvalidSpec = errors.New("invalid extension spec")

// Module is what the operator verified about the module it renders.
type Module struct {
	// Repository is registry/repository, without tag or digest.
	Repository string
	// Digest is the manifest digest ("sha256:<hex>") the tag resolved to.
	Digest string
}

// URL is the digest-pinned OCI URL of m, the only form the operator renders.
func (m Module) URL() string { return "oci://" + m.Repository + "@" + m.Digest }

// WasmPlugin renders the extensions.istio.io/v1alpha1 WasmPlugin for ext.
// The object has ext's name and namespace and a controller owner reference
// to ext, so it is garbage-collected with it.
func WasmPlugin(ext *v1alpha1.WasmExtension, m Module) (*clientext.WasmPlugin, error) {
	if m.Repository == "" || !strings.HasPrefix(m.Digest, "sha256:") {
		return nil, fmt.Errorf("%w: module %q@%q is not digest-pinned", ErrInvalidSpec, m.Repository, m.Digest)
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
		ImagePullPolicy: istioext.PullPolicy_IfNotPresent,
		PluginConfig:    cfg,
		PluginName:      spec.PluginName,
		Phase:           phase(spec.Phase),
		FailStrategy:    failStrategy(spec.FailStrategy),
		VmConfig:        vmConfig(spec.Env),
		Match:           match(spec.Match),
		Type:            pluginType(spec.Type),
	}
	if spec.Module.PullSecretRef != nil {
		wp.Spec.ImagePullSecret = spec.Module.PullSecretRef.Name
	}
	if spec.Priority != nil {
		wp.Spec.Priority = wrapperspb.Int32(*spec.Priority)
	}
	return wp, nil
}

func objectMeta(ext *v1alpha1.WasmExtension) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      ext.Name,
		Namespace: ext.Namespace,
		Labels:    map[string]string{LabelManagedBy: ManagedBy, LabelExtension: ext.Name},
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion:         v1alpha1.GroupVersion.String(),
			Kind:               "WasmExtension",
			Name:               ext.Name,
			UID:                ext.UID,
			Controller:         ptr(true),
			BlockOwnerDeletion: ptr(true),
		}},
	}
}

func ptr[T any](v T) *T { return &v }

// pluginConfig converts the free-form JSON object to a protobuf Struct.
func pluginConfig(raw *apiextensionsv1.JSON) (*structpb.Struct, error) {
	if raw == nil || len(raw.Raw) == 0 || string(raw.Raw) == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw.Raw, &m); err != nil {
		return nil, fmt.Errorf("%w: pluginConfig must be a JSON object: %v", ErrInvalidSpec, err)
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		return nil, fmt.Errorf("%w: pluginConfig: %v", ErrInvalidSpec, err)
	}
	return s, nil
}

func selector(s *v1alpha1.WorkloadSelector) *istiotype.WorkloadSelector {
	if s == nil {
		return nil
	}
	return &istiotype.WorkloadSelector{MatchLabels: s.MatchLabels}
}

func targetRefs(refs []v1alpha1.PolicyTargetReference) []*istiotype.PolicyTargetReference {
	var out []*istiotype.PolicyTargetReference
	for _, r := range refs {
		out = append(out, &istiotype.PolicyTargetReference{Group: r.Group, Kind: r.Kind, Name: r.Name})
	}
	return out
}

func phase(p v1alpha1.PluginPhase) istioext.PluginPhase {
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

func pluginType(t v1alpha1.PluginType) istioext.PluginType {
	if t == v1alpha1.PluginTypeNetwork {
		return istioext.PluginType_NETWORK
	}
	return istioext.PluginType_HTTP
}

func failStrategy(f v1alpha1.FailStrategy) istioext.FailStrategy {
	switch f {
	case v1alpha1.FailOpen:
		return istioext.FailStrategy_FAIL_OPEN
	case v1alpha1.FailReload:
		return istioext.FailStrategy_FAIL_RELOAD
	}
	return istioext.FailStrategy_FAIL_CLOSE
}

func vmConfig(env []v1alpha1.EnvVar) *istioext.VmConfig {
	if len(env) == 0 {
		return nil
	}
	vc := &istioext.VmConfig{}
	for _, e := range env {
		v := &istioext.EnvVar{Name: e.Name, Value: e.Value}
		if e.ValueFrom == v1alpha1.EnvHost {
			v.ValueFrom, v.Value = istioext.EnvValueSource_HOST, ""
		}
		vc.Env = append(vc.Env, v)
	}
	return vc
}

func match(sel []v1alpha1.TrafficSelector) []*istioext.WasmPlugin_TrafficSelector {
	var out []*istioext.WasmPlugin_TrafficSelector
	for _, s := range sel {
		ts := &istioext.WasmPlugin_TrafficSelector{Mode: workloadMode(s.Mode)}
		for _, p := range s.Ports {
			ts.Ports = append(ts.Ports, &istiotype.PortSelector{Number: uint32(p)})
		}
		out = append(out, ts)
	}
	return out
}

func workloadMode(m v1alpha1.WorkloadMode) istiotype.WorkloadMode {
	switch m {
	case v1alpha1.ModeClient:
		return istiotype.WorkloadMode_CLIENT
	case v1alpha1.ModeServer:
		return istiotype.WorkloadMode_SERVER
	case v1alpha1.ModeClientAndServer:
		return istiotype.WorkloadMode_CLIENT_AND_SERVER
	}
	return istiotype.WorkloadMode_UNDEFINED
}
