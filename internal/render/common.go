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

// checkModule refuses a module that is not pinned to a digest: the operator
// renders only what it verified.
func checkModule(m Module) error {
	if m.Repository == "" || !strings.HasPrefix(m.Digest, "sha256:") {
		return fmt.Errorf("%w: module %q@%q is not digest-pinned", ErrInvalidSpec, m.Repository, m.Digest)
	}
	return nil
}

// checkNoEnvoyOptions refuses spec.envoy for outputs that cannot carry it,
// rather than dropping it silently. The CRD already allows envoy only with
// output EnvoyFilter.
func checkNoEnvoyOptions(ext *v1alpha1.WasmExtension, kind string) error {
	if ext.Spec.Envoy != nil {
		return fmt.Errorf("%w: spec.envoy can only be rendered as an EnvoyFilter, not a %s", ErrInvalidSpec, kind)
	}
	return nil
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

// priority is spec.priority with the documented default of 0. It is always
// rendered: Istio orders a WasmPlugin without priority after every other one,
// which is not what the WasmExtension API promises.
func priority(p *int32) *wrapperspb.Int32Value {
	if p == nil {
		return wrapperspb.Int32(0)
	}
	return wrapperspb.Int32(*p)
}

// pluginConfigObject checks that pluginConfig is a JSON object and decodes
// it. A nil map means no configuration.
func pluginConfigObject(raw *apiextensionsv1.JSON) (map[string]any, error) {
	if raw == nil || len(raw.Raw) == 0 || string(raw.Raw) == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw.Raw, &m); err != nil {
		return nil, fmt.Errorf("%w: pluginConfig must be a JSON object: %v", ErrInvalidSpec, err)
	}
	return m, nil
}

// pluginConfig converts the free-form JSON object to a protobuf Struct.
func pluginConfig(raw *apiextensionsv1.JSON) (*structpb.Struct, error) {
	m, err := pluginConfigObject(raw)
	if err != nil || m == nil {
		return nil, err
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

// pullPolicy is IfNotPresent unless the extension asks for Always. The URL
// is digest-pinned, so IfNotPresent is always correct.
func pullPolicy(p v1alpha1.PullPolicy) istioext.PullPolicy {
	if p == v1alpha1.PullAlways {
		return istioext.PullPolicy_Always
	}
	return istioext.PullPolicy_IfNotPresent
}

func pullSecret(m v1alpha1.ModuleSource) string {
	if m.PullSecretRef == nil {
		return ""
	}
	return m.PullSecretRef.Name
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

func portSelectors(ports []v1alpha1.PortNumber) []*istiotype.PortSelector {
	var out []*istiotype.PortSelector
	for _, p := range ports {
		out = append(out, &istiotype.PortSelector{Number: uint32(p)})
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
