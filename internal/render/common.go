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
	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

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

// Module is what the operator verified about the module it renders, and
// where the proxies get it from (see the package doc, "Delivery and plugin
// configuration").
type Module struct {
	// Repository is registry/repository, without tag or digest.
	Repository string
	// Digest is the manifest digest ("sha256:<hex>") the tag resolved to.
	Digest string
	// SHA256 is the lowercase hex sha256 of the .wasm bytes (not of the
	// manifest). Required with CacheURL; otherwise it is not rendered, since
	// for an oci:// URL Istio would compare it with the manifest digest.
	SHA256 string
	// CacheURL is the http(s) URL at which the operator's module server
	// serves these .wasm bytes. Set: delivery Cache, WasmPlugin and
	// TrafficExtension tell the proxies to fetch CacheURL and check SHA256.
	// Empty: delivery Registry, they pull URL() from the registry.
	CacheURL string
}

// URL is the digest-pinned OCI URL of m: what the proxies pull with
// delivery Registry, and what AnnotationModule records otherwise.
func (m Module) URL() string { return "oci://" + m.Repository + "@" + m.Digest }

// checkModule refuses a module that is not pinned to a digest (the operator
// renders only what it verified) and a Cache delivery it cannot express.
func checkModule(m Module) error {
	if m.Repository == "" || !strings.HasPrefix(m.Digest, "sha256:") {
		return fmt.Errorf("%w: module %q@%q is not digest-pinned", ErrInvalidSpec, m.Repository, m.Digest)
	}
	return checkCacheDelivery(m)
}

// outputKind is what the preamble needs to know about one rendered kind.
type outputKind struct {
	groupVersion schema.GroupVersion
	kind         string
	// envoyOptions: the kind can express spec.envoy.
	envoyOptions bool
	// moduleAnnotation: the object's spec does not name the OCI module, so
	// AnnotationModule records it.
	moduleAnnotation bool
}

// The kinds the renderers produce.
var (
	kindWasmPlugin       = outputKind{groupVersion: clientext.SchemeGroupVersion, kind: "WasmPlugin"}
	kindTrafficExtension = outputKind{groupVersion: clientext.SchemeGroupVersion, kind: "TrafficExtension"}
	kindEnvoyFilter      = outputKind{
		groupVersion: clientnet.SchemeGroupVersion, kind: "EnvoyFilter",
		envoyOptions: true, moduleAnnotation: true,
	}
)

// head is what preamble hands a renderer to build its object on.
type head struct {
	typeMeta   metav1.TypeMeta
	objectMeta metav1.ObjectMeta
	// pluginConfig is spec.pluginConfig as a Struct, nil when there is none.
	// EnvoyFilters pass it on as JSON text instead (see configurationAny);
	// making the Struct for them too costs little and refuses a bad
	// pluginConfig at the same point for every kind.
	pluginConfig *structpb.Struct
	// fetch is how a WasmPlugin or TrafficExtension names the module.
	fetch proxyFetch
}

// preamble is where every renderer starts. It refuses what no object of
// kind k can express: a module that is not digest-pinned, a pluginConfig
// that is not a JSON object, spec.envoy for a kind without it. And it
// returns the object's TypeMeta and ObjectMeta: ext's name and namespace,
// the managed-by and extension labels, and a controller owner reference to
// ext, so that the object is garbage-collected with it. Every kind gets the
// same name and labels, so switching outputs replaces one object by the
// other. The module annotation is added wherever the object's spec does not
// name the OCI artifact: on EnvoyFilters, and with delivery Cache.
func preamble(ext *v1alpha1.WasmExtension, m Module, k outputKind) (head, error) {
	if err := checkModule(m); err != nil {
		return head{}, err
	}
	// Refused rather than dropped silently. The CRD already allows envoy
	// only with output EnvoyFilter.
	if ext.Spec.Envoy != nil && !k.envoyOptions {
		return head{}, fmt.Errorf("%w: spec.envoy can only be rendered as an EnvoyFilter, not a %s", ErrInvalidSpec, k.kind)
	}
	cfg, err := pluginConfig(ext.Spec.PluginConfig)
	if err != nil {
		return head{}, err
	}
	h := head{
		typeMeta: metav1.TypeMeta{APIVersion: k.groupVersion.String(), Kind: k.kind},
		objectMeta: metav1.ObjectMeta{
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
		},
		pluginConfig: cfg,
		fetch:        moduleFetch(m, &ext.Spec),
	}
	if k.moduleAnnotation || m.CacheURL != "" {
		h.objectMeta.Annotations = map[string]string{AnnotationModule: m.URL()}
	}
	return h, nil
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
// it. A nil map means no configuration: no pluginConfig, null, and the empty
// object {} alike. Istio sends a plugin nothing (a zero-length
// configuration in proxy_on_configure) both for a WasmPlugin or
// TrafficExtension without pluginConfig and for one with {}; treating {} as
// absent makes every output render the same and every plugin see the same
// (see the package doc, "Delivery and plugin configuration").
func pluginConfigObject(raw *apiextensionsv1.JSON) (map[string]any, error) {
	if raw == nil || len(raw.Raw) == 0 || string(raw.Raw) == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw.Raw, &m); err != nil {
		return nil, fmt.Errorf("%w: pluginConfig must be a JSON object: %v", ErrInvalidSpec, err)
	}
	if len(m) == 0 {
		return nil, nil
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

// byPhase picks the value of an Istio phase enum for p from values, which
// hold the enum's AUTHN, AUTHZ, STATS and unset values in that order (the
// order of phaseRank).
func byPhase[T any](p v1alpha1.PluginPhase, values [4]T) T {
	return values[phaseRank(p)]
}

// trafficSelectors converts spec.match with mk, which builds the traffic
// selector type of one Istio kind.
func trafficSelectors[T any](sel []v1alpha1.TrafficSelector, mk func(istiotype.WorkloadMode, []*istiotype.PortSelector) T) []T {
	var out []T
	for _, s := range sel {
		out = append(out, mk(workloadMode(s.Mode), portSelectors(s.Ports)))
	}
	return out
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
