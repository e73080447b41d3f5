package render

import (
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/types/known/structpb"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// Names of the filters Istio generates that the rendered patches anchor on.
// See the package doc, "EnvoyFilter placement", for why each one.
const (
	filterHCM        = "envoy.filters.network.http_connection_manager"
	filterTCPProxy   = "envoy.filters.network.tcp_proxy"
	filterMongoProxy = "envoy.filters.network.mongo_proxy"
	filterMySQLProxy = "envoy.filters.network.mysql_proxy"
	filterRedisProxy = "envoy.filters.network.redis_proxy"
	filterNetRBAC    = "envoy.filters.network.rbac"
	filterIstioStats = "istio.stats"
	filterJWTAuthn   = "envoy.filters.http.jwt_authn"
	filterHTTPRBAC   = "envoy.filters.http.rbac"
	filterGRPCWeb    = "envoy.filters.http.grpc_web"
	filterGRPCStats  = "envoy.filters.http.grpc_stats"
)

// phaseAnchors are, in the order Istio generates them, the filters that a
// filter of phase p and type t must run before: the patches put it right
// before the first of them that a chain holds (see slotPatches). The last
// anchor is in every chain Istio puts Wasm filters of type t on; the others
// exist only under some policy or protocol, which is why there are several.
// The package doc ("EnvoyFilter placement") says why these, phase by phase.
func phaseAnchors(t v1alpha1.PluginType, p v1alpha1.PluginPhase) []string {
	if t == v1alpha1.PluginTypeNetwork {
		// Everything Istio puts after the STATS and unset phases: TCP stats,
		// then the terminal stack (buildNetworkFiltersStack) or the HCM.
		tail := []string{filterIstioStats, filterMongoProxy, filterMySQLProxy, filterRedisProxy, filterTCPProxy, filterHCM}
		if p == v1alpha1.PhaseAuthn || p == v1alpha1.PhaseAuthz {
			return append([]string{filterNetRBAC}, tail...)
		}
		return tail
	}
	tail := []string{filterGRPCWeb, filterGRPCStats}
	switch p {
	case v1alpha1.PhaseAuthn:
		return append([]string{filterJWTAuthn, filterHTTPRBAC}, tail...)
	case v1alpha1.PhaseAuthz:
		return append([]string{filterHTTPRBAC}, tail...)
	}
	return tail
}

// placeholderName names the stand-in filter slotPatches moves into place.
// Kubernetes names hold no "/", so it is never another extension's
// FilterName.
func placeholderName(name string) string { return name + "/placeholder" }

// insertionPoint is one place the filter patch applies: a patch context and
// a listener port (0: every port).
type insertionPoint struct {
	context networking.EnvoyFilter_PatchContext
	port    uint32
}

// insertionPoints turns spec.match into patch contexts and ports, the way
// Istio matches WasmPlugins: Server is inbound sidecar traffic; Client is
// outbound sidecar traffic and gateways; ClientAndServer or no mode is all
// of them. Gateway targets keep only GATEWAY.
//
// Overlaps are merged so that no listener gets the filter twice: per
// context, "every port" absorbs single ports. When all three contexts end
// up with the same ports, one ANY patch replaces them.
func insertionPoints(sel []v1alpha1.TrafficSelector, gateway bool) ([]insertionPoint, error) {
	if len(sel) == 0 {
		sel = []v1alpha1.TrafficSelector{{}}
	}
	inbound, outbound, gw := networking.EnvoyFilter_SIDECAR_INBOUND, networking.EnvoyFilter_SIDECAR_OUTBOUND, networking.EnvoyFilter_GATEWAY
	ports := map[networking.EnvoyFilter_PatchContext]map[uint32]bool{}
	for _, s := range sel {
		var contexts []networking.EnvoyFilter_PatchContext
		switch s.Mode {
		case v1alpha1.ModeServer:
			contexts = []networking.EnvoyFilter_PatchContext{inbound}
		case v1alpha1.ModeClient:
			contexts = []networking.EnvoyFilter_PatchContext{outbound, gw}
		default:
			contexts = []networking.EnvoyFilter_PatchContext{inbound, outbound, gw}
		}
		for _, c := range contexts {
			if gateway && c != gw {
				continue
			}
			if ports[c] == nil {
				ports[c] = map[uint32]bool{}
			}
			if len(s.Ports) == 0 {
				ports[c][0] = true
			}
			for _, p := range s.Ports {
				ports[c][uint32(p)] = true
			}
		}
	}
	if len(ports) == 0 {
		return nil, fmt.Errorf("%w: match selects no gateway traffic (mode Server is sidecar inbound only)", ErrInvalidSpec)
	}
	for _, set := range ports {
		if set[0] {
			clear(set)
			set[0] = true
		}
	}
	if len(ports) == 3 && maps.Equal(ports[inbound], ports[outbound]) && maps.Equal(ports[inbound], ports[gw]) {
		ports = map[networking.EnvoyFilter_PatchContext]map[uint32]bool{networking.EnvoyFilter_ANY: ports[inbound]}
	}
	var out []insertionPoint
	for _, c := range slices.Sorted(maps.Keys(ports)) {
		for _, p := range slices.Sorted(maps.Keys(ports[c])) {
			out = append(out, insertionPoint{context: c, port: p})
		}
	}
	return out, nil
}

// filterPatches are the HTTP_FILTER (NETWORK_FILTER) patches that insert
// the ECDS filter called name, once, at its phase's place in every chain
// the insertion points select, and, for a network filter, take it out of
// the chains Istio never puts network Wasm filters on.
func filterPatches(t v1alpha1.PluginType, p v1alpha1.PluginPhase, name string, points []insertionPoint) ([]*networking.EnvoyFilter_EnvoyConfigObjectPatch, error) {
	filter, err := filterValue(t, name)
	if err != nil {
		return nil, err
	}
	placeholder, err := filterValue(t, placeholderName(name))
	if err != nil {
		return nil, err
	}
	anchors := phaseAnchors(t, p)
	var out []*networking.EnvoyFilter_EnvoyConfigObjectPatch
	for _, pt := range points {
		out = append(out, slotPatches(t, pt, anchors, filter, placeholder)...)
	}
	if t == v1alpha1.PluginTypeNetwork {
		out = append(out, exclusionPatches(name, points)...)
	}
	return out, nil
}

// slotPatches put filter right before the first of anchors present in each
// chain pt selects. An INSERT_BEFORE whose anchor is missing does nothing
// and one per anchor would insert several copies, so, when there is more
// than one anchor, they insert placeholder (the same filter under
// placeholderName) before each anchor present, REPLACE the first
// placeholder (the earliest in the chain) with filter and REMOVE the rest.
// istiod applies the patches of one EnvoyFilter one after the other to each
// chain, and REPLACE acts on the first match only while REMOVE takes every
// match (insertBeforeFunc, replaceFunc and patchHTTPFilters in istio/istio
// pilot/pkg/networking/core/envoyfilter/listener_patch.go), so exactly one
// filter is left, at the first anchor, and no placeholder reaches a proxy.
func slotPatches(t v1alpha1.PluginType, pt insertionPoint, anchors []string, filter, placeholder *structpb.Struct) []*networking.EnvoyFilter_EnvoyConfigObjectPatch {
	before := networking.EnvoyFilter_Patch_INSERT_BEFORE
	if len(anchors) == 1 {
		return []*networking.EnvoyFilter_EnvoyConfigObjectPatch{listenerPatch(t, pt, anchors[0], before, filter)}
	}
	var out []*networking.EnvoyFilter_EnvoyConfigObjectPatch
	for _, a := range anchors {
		out = append(out, listenerPatch(t, pt, a, before, placeholder))
	}
	ph := placeholder.Fields["name"].GetStringValue()
	return append(out,
		listenerPatch(t, pt, ph, networking.EnvoyFilter_Patch_REPLACE, filter),
		listenerPatch(t, pt, ph, networking.EnvoyFilter_Patch_REMOVE, nil))
}

func listenerPatch(t v1alpha1.PluginType, pt insertionPoint, anchor string, op networking.EnvoyFilter_Patch_Operation, value *structpb.Struct) *networking.EnvoyFilter_EnvoyConfigObjectPatch {
	return &networking.EnvoyFilter_EnvoyConfigObjectPatch{
		ApplyTo: applyTo(t),
		Match: &networking.EnvoyFilter_EnvoyConfigObjectMatch{
			Context:     pt.context,
			ObjectTypes: &networking.EnvoyFilter_EnvoyConfigObjectMatch_Listener{Listener: listenerMatch(t, pt.port, anchor)},
		},
		Patch: &networking.EnvoyFilter_Patch{Operation: op, Value: value},
	}
}

func applyTo(t v1alpha1.PluginType) networking.EnvoyFilter_ApplyTo {
	if t == v1alpha1.PluginTypeNetwork {
		return networking.EnvoyFilter_NETWORK_FILTER
	}
	return networking.EnvoyFilter_HTTP_FILTER
}

// listenerMatch selects the listeners on port (0: any) and, for an HTTP
// filter, the HTTP connection manager and the anchor inside it; for a
// network filter, the anchor itself.
func listenerMatch(t v1alpha1.PluginType, port uint32, anchor string) *networking.EnvoyFilter_ListenerMatch {
	fm := &networking.EnvoyFilter_ListenerMatch_FilterMatch{Name: anchor}
	if t != v1alpha1.PluginTypeNetwork {
		fm = &networking.EnvoyFilter_ListenerMatch_FilterMatch{
			Name:      filterHCM,
			SubFilter: &networking.EnvoyFilter_ListenerMatch_SubFilterMatch{Name: anchor},
		}
	}
	return &networking.EnvoyFilter_ListenerMatch{
		PortNumber:  port,
		FilterChain: &networking.EnvoyFilter_ListenerMatch_FilterChainMatch{Filter: fm},
	}
}

// networkExclusions are the chains (by listener or filter chain name) that
// end in a TCP proxy or an HCM, so that slotPatches reach them, but that
// Istio builds without network Wasm filters, with the patch context istiod
// patches them in: the inbound blackhole chain (blackholeFilterChain), the
// HBONE CONNECT terminator (buildConnectTerminateListener), the outbound
// listeners' default PassthroughFilterChain (buildListenerFromEntry) and the
// virtualOutbound listener (buildOutboundCatchAllNetworkFilterChains), all in
// istio/istio pilot/pkg/networking/core/.
var networkExclusions = []struct {
	context         networking.EnvoyFilter_PatchContext
	listener, chain string
}{
	{networking.EnvoyFilter_SIDECAR_INBOUND, "", "virtualInbound-blackhole"},
	{networking.EnvoyFilter_SIDECAR_INBOUND, "connect_terminate", ""},
	{networking.EnvoyFilter_SIDECAR_OUTBOUND, "", "PassthroughFilterChain"},
	{networking.EnvoyFilter_SIDECAR_OUTBOUND, "virtualOutbound", ""},
}

// exclusionPatches REMOVE the network filter called name from the
// networkExclusions of the contexts points insert into. They come after the
// insertions, which istiod applies first.
func exclusionPatches(name string, points []insertionPoint) []*networking.EnvoyFilter_EnvoyConfigObjectPatch {
	var out []*networking.EnvoyFilter_EnvoyConfigObjectPatch
	for _, x := range networkExclusions {
		if !slices.ContainsFunc(points, func(pt insertionPoint) bool {
			return pt.context == x.context || pt.context == networking.EnvoyFilter_ANY
		}) {
			continue
		}
		out = append(out, &networking.EnvoyFilter_EnvoyConfigObjectPatch{
			ApplyTo: networking.EnvoyFilter_NETWORK_FILTER,
			Match: &networking.EnvoyFilter_EnvoyConfigObjectMatch{
				Context: x.context,
				ObjectTypes: &networking.EnvoyFilter_EnvoyConfigObjectMatch_Listener{Listener: &networking.EnvoyFilter_ListenerMatch{
					Name: x.listener,
					FilterChain: &networking.EnvoyFilter_ListenerMatch_FilterChainMatch{
						Name:   x.chain,
						Filter: &networking.EnvoyFilter_ListenerMatch_FilterMatch{Name: name},
					},
				}},
			},
			Patch: &networking.EnvoyFilter_Patch{Operation: networking.EnvoyFilter_Patch_REMOVE},
		})
	}
	return out
}

// extensionConfigPatch is the EXTENSION_CONFIG patch: the ECDS resource the
// inserted filter asks for, holding the Wasm filter config.
func extensionConfigPatch(ext *v1alpha1.WasmExtension, name string, opts EnvoyFilterOptions) (*networking.EnvoyFilter_EnvoyConfigObjectPatch, error) {
	value, err := extensionConfigValue(ext, name, opts)
	if err != nil {
		return nil, err
	}
	return &networking.EnvoyFilter_EnvoyConfigObjectPatch{
		ApplyTo: networking.EnvoyFilter_EXTENSION_CONFIG,
		Patch:   &networking.EnvoyFilter_Patch{Operation: networking.EnvoyFilter_Patch_ADD, Value: value},
	}, nil
}

// patchValue converts a JSON object to the Struct a patch value is.
func patchValue(m map[string]any) (*structpb.Struct, error) {
	s, err := structpb.NewStruct(m)
	if err != nil {
		return nil, fmt.Errorf("render: EnvoyFilter patch value: %w", err)
	}
	return s, nil
}
