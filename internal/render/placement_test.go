package render

import (
	"fmt"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// Chains as Istio 1.32 builds them, as templates: the filters, with a slot
// marker where Istio's builders put the Wasm filters of each phase
// (extension.PopAppendHTTP and PopAppendNetwork in buildHTTPConnectionManager,
// buildCompleteNetworkFilters, buildInboundNetworkFiltersForHTTP,
// buildListenerFromEntry and buildGatewayTCPBasedFilterChains, istio/istio
// pilot/pkg/networking/core/). Filters that exist only under some policy or
// protocol are switched by istioOptions.

// Slot markers, by phase.
const (
	slotAuthn = "◆AUTHN"
	slotAuthz = "◆AUTHZ"
	slotStats = "◆STATS"
	slotUnset = "◆UNSET"
)

func slotOf(p v1alpha1.PluginPhase) string {
	return [...]string{slotAuthn, slotAuthz, slotStats, slotUnset}[phaseRank(p)]
}

// Istio filter names the templates use besides the anchors.
const (
	filterMX         = "istio.metadata_exchange"
	filterHTTPExtAuz = "envoy.filters.http.ext_authz"
	filterNetExtAuz  = "envoy.filters.network.ext_authz"
	filterIstioAuthn = "istio_authn"
	filterALPN       = "istio.alpn"
	filterFault      = "envoy.filters.http.fault"
	filterCORS       = "envoy.filters.http.cors"
	filterRouter     = "envoy.filters.http.router"
)

// istioOptions are the optional filters of a workload's chains.
type istioOptions struct {
	custom  bool // a CUSTOM AuthorizationPolicy: shadow rbac + ext_authz
	jwt     bool // a RequestAuthentication: jwt_authn + istio_authn
	rbac    bool // an ALLOW/DENY AuthorizationPolicy: rbac
	stats   bool // Istio's stats (Telemetry): istio.stats
	grpcWeb bool // a gRPC-Web port: grpc_web
}

func (o istioOptions) String() string {
	var on []string
	for name, set := range map[string]bool{"custom": o.custom, "jwt": o.jwt, "rbac": o.rbac, "stats": o.stats, "grpcweb": o.grpcWeb} {
		if set {
			on = append(on, name)
		}
	}
	slices.Sort(on)
	return "[" + strings.Join(on, ",") + "]"
}

func allIstioOptions() []istioOptions {
	var out []istioOptions
	for i := range 32 {
		out = append(out, istioOptions{custom: i&1 != 0, jwt: i&2 != 0, rbac: i&4 != 0, stats: i&8 != 0, grpcWeb: i&16 != 0})
	}
	return out
}

// layout says where a template puts the AUTHN and AUTHZ slots: where Istio
// does, or where the rendered EnvoyFilters do. They differ only with a
// CUSTOM policy, whose shadow RBAC filter has the name of the local one:
// the rendered filters then go before it (see the package doc).
type layout bool

const (
	istioLayout    layout = false
	renderedLayout layout = true
)

type adder []string

func (a *adder) add(on bool, names ...string) {
	if on {
		*a = append(*a, names...)
	}
}

// httpTemplate is the HCM's HTTP filters (buildHTTPConnectionManager).
// Outbound sidecars have no authentication or authorization filters and,
// like gateways, istio.alpn.
func httpTemplate(o istioOptions, inbound bool, l layout) []string {
	early := l == renderedLayout && o.custom
	var f adder
	f.add(true, filterMX)
	f.add(early, slotAuthn, slotAuthz)
	f.add(o.custom, filterHTTPRBAC, filterHTTPExtAuz)
	f.add(!early, slotAuthn)
	f.add(o.jwt, filterJWTAuthn, filterIstioAuthn)
	f.add(!early, slotAuthz)
	f.add(o.rbac, filterHTTPRBAC)
	f.add(true, slotStats, slotUnset)
	f.add(o.grpcWeb, filterGRPCWeb)
	f.add(true, filterGRPCStats)
	f.add(!inbound, filterALPN)
	f.add(true, filterFault, filterCORS)
	f.add(o.stats, filterIstioStats)
	f.add(true, filterRouter)
	return f
}

// tcpTemplate is a TCP chain (buildCompleteNetworkFilters) ending in the
// terminal filters (buildNetworkFiltersStack).
func tcpTemplate(o istioOptions, mx bool, l layout, terminal ...string) []string {
	early := l == renderedLayout && o.custom
	var f adder
	f.add(mx, filterMX)
	f.add(early, slotAuthn, slotAuthz)
	f.add(o.custom, filterNetRBAC, filterNetExtAuz)
	f.add(!early, slotAuthn, slotAuthz)
	f.add(o.rbac, filterNetRBAC)
	f.add(true, slotStats, slotUnset)
	f.add(o.stats, filterIstioStats)
	f.add(true, terminal...)
	return f
}

// hcmChainTemplate is the network filters of an HTTP chain: metadata
// exchange on inbound, the network Wasm filters, the HCM.
func hcmChainTemplate(mx bool) []string {
	var f adder
	f.add(mx, filterMX)
	f.add(true, slotAuthn, slotAuthz, slotStats, slotUnset, filterHCM)
	return f
}

// catchAll is a chain Istio builds without Wasm filters.
func catchAll(o istioOptions) []string {
	var f adder
	f.add(o.stats, filterIstioStats)
	f.add(true, filterTCPProxy)
	return f
}

// tChain is a chain template: network filters and, for the HCM, HTTP filters.
type tChain struct {
	listener string
	port     uint32
	name     string
	destPort uint32
	network  []string
	http     []string
}

// templates are the chains of one proxy in patch context ctx.
func templates(ctx networking.EnvoyFilter_PatchContext, o istioOptions, l layout) []tChain {
	switch ctx {
	case networking.EnvoyFilter_SIDECAR_INBOUND:
		return []tChain{
			{"virtualInbound", 15006, "inbound|8080||", 8080, hcmChainTemplate(true), httpTemplate(o, true, l)},
			{"virtualInbound", 15006, "inbound|9000||", 9000, tcpTemplate(o, true, l, filterTCPProxy), nil},
			{"virtualInbound", 15006, "virtualInbound", 0, tcpTemplate(o, true, l, filterTCPProxy), nil},
			{"virtualInbound", 15006, "virtualInbound-catchall-http", 0, hcmChainTemplate(true), httpTemplate(o, true, l)},
			{"virtualInbound", 15006, "virtualInbound-blackhole", 15006, catchAll(o), nil},
			{"connect_terminate", 15008, "default", 0, []string{filterHCM}, []string{"connect_authority", filterRouter}},
		}
	case networking.EnvoyFilter_SIDECAR_OUTBOUND:
		// Outbound sidecars have no authentication or authorization filters.
		o.custom, o.jwt, o.rbac = false, false, false
		return []tChain{
			{"0.0.0.0_8080", 8080, "", 0, hcmChainTemplate(false), httpTemplate(o, false, l)},
			{"10.0.0.1_9000", 9000, "", 0, tcpTemplate(o, false, l, filterTCPProxy), nil},
			{"10.0.0.1_9000", 9000, "PassthroughFilterChain", 0, catchAll(o), nil},
			{"10.0.0.2_27017", 27017, "", 0, tcpTemplate(o, false, l, filterMongoProxy, filterTCPProxy), nil},
			{"10.0.0.3_3306", 3306, "", 0, tcpTemplate(o, false, l, filterMySQLProxy, filterTCPProxy), nil},
			{"10.0.0.4_6379", 6379, "", 0, tcpTemplate(o, false, l, filterRedisProxy), nil},
			{"virtualOutbound", 15001, "virtualOutbound-blackhole", 15001, catchAll(o), nil},
			{"virtualOutbound", 15001, "virtualOutbound-catchall-tcp", 0, catchAll(o), nil},
		}
	}
	return []tChain{
		{"0.0.0.0_8080", 8080, "", 0, hcmChainTemplate(false), httpTemplate(o, false, l)},
		{"0.0.0.0_9443", 9443, "", 0, tcpTemplate(o, false, l, filterTCPProxy), nil},
	}
}

// instantiate builds the listeners of tcs with ours (filter names by slot
// marker) in the slots of type t, and the other slots empty.
func instantiate(tcs []tChain, t v1alpha1.PluginType, ours map[string][]string) []*mListener {
	fill := func(tmpl []string, on bool) []string {
		var out []string
		for _, f := range tmpl {
			switch {
			case !strings.HasPrefix(f, "◆"):
				out = append(out, f)
			case on:
				out = append(out, ours[f]...)
			}
		}
		return out
	}
	var ls []*mListener
	for _, tc := range tcs {
		if len(ls) == 0 || ls[len(ls)-1].name != tc.listener {
			ls = append(ls, &mListener{name: tc.listener, port: tc.port})
		}
		fc := &mChain{name: tc.name, destPort: tc.destPort}
		for _, name := range fill(tc.network, t == v1alpha1.PluginTypeNetwork) {
			f := &mFilter{name: name}
			if name == filterHCM {
				f.http = fill(tc.http, t == v1alpha1.PluginTypeHTTP)
			}
			fc.filters = append(fc.filters, f)
		}
		ls[len(ls)-1].chains = append(ls[len(ls)-1].chains, fc)
	}
	return ls
}

var patchContexts = []networking.EnvoyFilter_PatchContext{
	networking.EnvoyFilter_SIDECAR_INBOUND, networking.EnvoyFilter_SIDECAR_OUTBOUND, networking.EnvoyFilter_GATEWAY,
}

func contextName(c networking.EnvoyFilter_PatchContext) string {
	return strings.ToLower(strings.TrimPrefix(c.String(), "SIDECAR_"))
}

// bySlot groups the filter names of exts, in Order, by their phase's slot.
func bySlot(exts []*v1alpha1.WasmExtension) map[string][]string {
	out := map[string][]string{}
	for _, e := range Order(exts, "") {
		out[slotOf(e.Spec.Phase)] = append(out[slotOf(e.Spec.Phase)], FilterName(e))
	}
	return out
}

func caseName(parts ...any) string {
	var s []string
	for _, p := range parts {
		s = append(s, fmt.Sprint(p))
	}
	return strings.Join(s, "/")
}
