package render

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	networking "istio.io/api/networking/v1alpha3"
	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// AnnotationModule, on a rendered EnvoyFilter, names the digest-pinned OCI
// artifact whose .wasm the filter's HTTP URL serves. Proxies never see it;
// it is for people reading the object.
const AnnotationModule = "wasmext.io/module"

// DefaultFetchTimeout is how long a proxy may take to fetch the module when
// EnvoyFilterOptions.Timeout is zero. It is what Istio uses for WasmPlugin.
const DefaultFetchTimeout = 30 * time.Second

// DefaultRootNamespace is Istio's default root namespace
// (meshConfig.rootNamespace): extensions there apply to the whole mesh and,
// at equal priority, run after the workload's own (see Order).
const DefaultRootNamespace = "istio-system"

// DefaultClusterDomain is the Kubernetes cluster domain Istio names
// services with (istiod's --domain) when EnvoyFilterOptions.ClusterDomain is
// empty.
const DefaultClusterDomain = "cluster.local"

// EnvoyFilterOptions says where proxies fetch the module from when an
// extension is rendered as an EnvoyFilter, and what of the mesh the
// rendering depends on.
//
// Envoy cannot pull an OCI artifact: an EnvoyFilter's Wasm code is a remote
// data source, a plain HTTP(S) URL plus the SHA-256 of the bytes behind it.
// The operator serves the verified .wasm itself (its module server) and
// passes that URL here. Under Istio, the proxy's istio-agent intercepts the
// extension config, downloads the URL, checks the SHA-256 and hands Envoy a
// local file; Cluster only matters to an Envoy that fetches by itself
// (ISTIO_AGENT_ENABLE_WASM_REMOTE_LOAD_CONVERSION=false).
type EnvoyFilterOptions struct {
	// ModuleURL is the http:// or https:// URL proxies fetch the .wasm
	// from. Required.
	ModuleURL string
	// SHA256 is the lowercase hex SHA-256 of the .wasm bytes (not the OCI
	// manifest digest). Required: proxies refuse bytes that do not match.
	SHA256 string
	// Cluster is the Envoy cluster that reaches ModuleURL's host. Empty
	// means the Istio service cluster of the URL's host and port (see
	// serviceCluster), e.g. "outbound|8082||wasmext-modules.wasmext-system.svc.cluster.local"
	// for http://wasmext-modules.wasmext-system.svc:8082/….
	Cluster string
	// ClusterDomain is the cluster's DNS domain, which completes a
	// "<service>.<namespace>.svc" URL host into the service's name in
	// Istio. Empty means DefaultClusterDomain.
	ClusterDomain string
	// RootNamespace is the mesh's root namespace. Empty means
	// DefaultRootNamespace. It decides the EnvoyFilter priority of an
	// extension there (see envoyFilterPriority).
	RootNamespace string
	// Timeout bounds the fetch. Zero means DefaultFetchTimeout.
	Timeout time.Duration
}

var sha256Hex = regexp.MustCompile(`^[a-f0-9]{64}$`)

// resolve checks o and fills in the defaults.
func (o EnvoyFilterOptions) resolve() (EnvoyFilterOptions, error) {
	if o.ModuleURL == "" || o.SHA256 == "" {
		return o, fmt.Errorf("%w: an EnvoyFilter needs the module's HTTP URL and SHA-256 (the operator's module server provides them)", ErrInvalidSpec)
	}
	u, err := url.Parse(o.ModuleURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return o, fmt.Errorf("%w: module URL %q is not an http(s) URL with a host", ErrInvalidSpec, o.ModuleURL)
	}
	if !sha256Hex.MatchString(o.SHA256) {
		return o, fmt.Errorf("%w: module SHA-256 %q is not 64 lowercase hex digits", ErrInvalidSpec, o.SHA256)
	}
	if o.Timeout < 0 {
		return o, fmt.Errorf("%w: negative module fetch timeout %v", ErrInvalidSpec, o.Timeout)
	}
	o.Timeout = cmp.Or(o.Timeout, DefaultFetchTimeout)
	o.ClusterDomain = cmp.Or(o.ClusterDomain, DefaultClusterDomain)
	o.RootNamespace = cmp.Or(o.RootNamespace, DefaultRootNamespace)
	o.Cluster = cmp.Or(o.Cluster, serviceCluster(u, o.ClusterDomain))
	return o, nil
}

// serviceCluster is the name Istio gives the outbound cluster of the
// service behind u: "outbound|<port>||<hostname>" (model.BuildSubsetKey in
// istio/istio pilot/pkg/model/service.go), where the port defaults to the
// scheme's and the hostname of a Kubernetes Service is its FQDN
// "<service>.<namespace>.svc.<domain>" (kube.ServiceHostname). A
// "<service>.<namespace>.svc" host, the form the module server is usually
// given, is completed with domain; any other host is used as written,
// since only a fully written name can be told apart from an external one.
// That cluster exists on every proxy whose Sidecar scope sees the module
// server's Service. (Istio itself renders "_" for WasmPlugins, because
// istio-agent fetches the URL and never uses the cluster.)
func serviceCluster(u *url.URL, domain string) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if strings.HasSuffix(host, ".svc") {
		host += "." + domain
	}
	return "outbound|" + port + "||" + host
}

// EnvoyFilters renders ext as networking.istio.io/v1alpha3 EnvoyFilters: what
// Istio documents for remote Wasm, HTTP_FILTER (NETWORK_FILTER for type
// NETWORK) patches inserting a filter whose config comes from ECDS at its
// phase's place (see the package doc, "EnvoyFilter placement"), and an
// EXTENSION_CONFIG patch that is that config: the Wasm filter with
// vm_config.code.remote pointing at opts.ModuleURL. See EnvoyFilterOptions.
//
// It returns one EnvoyFilter holding all the patches, named, labeled and
// owner-referenced like the WasmPlugin. One object rather than several
// because the patches must select the same proxies (one workloadSelector or
// targetRefs to keep right), are applied and deleted together, and run in
// the order they are listed; an EXTENSION_CONFIG patch is not ordered, so
// sharing the EnvoyFilter priority costs nothing. It is a slice so that a
// split stays possible without changing callers.
//
// m is the verified OCI artifact behind opts.ModuleURL; it is recorded in
// the AnnotationModule annotation. imagePullPolicy and module.pullSecretRef
// have no meaning here: proxies fetch content-addressed bytes from the
// operator and never talk to the registry.
func EnvoyFilters(ext *v1alpha1.WasmExtension, m Module, opts EnvoyFilterOptions) ([]*clientnet.EnvoyFilter, error) {
	h, err := preamble(ext, m, kindEnvoyFilter)
	if err != nil {
		return nil, err
	}
	opts, err = opts.resolve()
	if err != nil {
		return nil, err
	}
	gateway, err := gatewayTargets(ext.Spec.TargetRefs)
	if err != nil {
		return nil, err
	}
	points, err := insertionPoints(ext.Spec.Match, gateway)
	if err != nil {
		return nil, err
	}
	name := FilterName(ext)
	extConfig, err := extensionConfigPatch(ext, name, opts)
	if err != nil {
		return nil, err
	}
	filters, err := filterPatches(ext.Spec.Type, ext.Spec.Phase, name, points)
	if err != nil {
		return nil, err
	}
	ef := &clientnet.EnvoyFilter{TypeMeta: h.typeMeta, ObjectMeta: h.objectMeta}
	ef.Spec = networking.EnvoyFilter{
		WorkloadSelector: workloadSelector(ext.Spec.Selector),
		ConfigPatches:    append([]*networking.EnvoyFilter_EnvoyConfigObjectPatch{extConfig}, filters...),
		Priority:         envoyFilterPriority(ext.Spec.Phase, ext.Spec.Priority, ext.Namespace == opts.RootNamespace),
	}
	if gateway {
		ef.Spec.TargetRefs = targetRefs(ext.Spec.TargetRefs)
	}
	return []*clientnet.EnvoyFilter{ef}, nil
}

// FilterName is the name of the filter and of its ECDS resource in the
// EnvoyFilter rendered for ext. It is prefixed so that it can never be one
// of Istio's own ECDS names (WasmPlugins use extensions.istio.io/…).
func FilterName(ext *v1alpha1.WasmExtension) string {
	return "wasmext.io/" + ext.Namespace + "/" + ext.Name
}

func workloadSelector(s *v1alpha1.WorkloadSelector) *networking.WorkloadSelector {
	if s == nil || len(s.MatchLabels) == 0 {
		return nil
	}
	return &networking.WorkloadSelector{Labels: s.MatchLabels}
}

// gatewayTargets reports whether targetRefs attach the extension to
// gateways. EnvoyFilter's targetRefs (Istio 1.22+) select Gateway and
// GatewayClass proxies like WasmPlugin's do. Service and ServiceEntry
// targets attach to waypoints, where EnvoyFilter needs the undocumented
// WAYPOINT context and a different match; they are refused rather than
// rendered into something Istio would silently ignore.
func gatewayTargets(refs []v1alpha1.PolicyTargetReference) (bool, error) {
	for _, r := range refs {
		switch r.Kind {
		case "Gateway", "GatewayClass":
		default:
			return false, fmt.Errorf("%w: targetRef %s %q attaches to a waypoint, which EnvoyFilter output does not support; use output WasmPlugin or TrafficExtension",
				ErrInvalidSpec, r.Kind, r.Name)
		}
	}
	return len(refs) > 0, nil
}
