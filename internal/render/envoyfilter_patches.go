package render

import (
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/types/known/structpb"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// Names of filters Istio puts in every chain it generates, used as insertion
// anchors.
const (
	filterHCM       = "envoy.filters.network.http_connection_manager"
	filterTCPProxy  = "envoy.filters.network.tcp_proxy"
	filterGRPCStats = "envoy.filters.http.grpc_stats"
	filterFault     = "envoy.filters.http.fault"
	filterRouter    = "envoy.filters.http.router"
)

// placement is where a phase puts the filter: INSERT_FIRST, or
// INSERT_BEFORE each of anchors (one patch per anchor).
type placement struct {
	op      networking.EnvoyFilter_Patch_Operation
	anchors []string
}

// Where each phase inserts the filter.
//
// Istio builds an HTTP chain as
//
//	istio.metadata_exchange, [ext_authz], ◆AUTHN, [jwt_authn], ◆AUTHZ,
//	[rbac…], ◆STATS, ◆unset, grpc_stats, [istio.alpn], fault, cors,
//	[istio.stats], router
//
// (◆ = where Istio puts WasmPlugins of that phase; [x] = only present under
// some condition). An EnvoyFilter INSERT_BEFORE whose anchor is missing is
// silently not applied, and the natural anchors are conditional: jwt_authn
// exists only with a RequestAuthentication, rbac only with an
// AuthorizationPolicy, neither ever on outbound listeners, istio.stats only
// with metrics enabled. So each phase anchors on a filter Istio always
// generates, as close to Istio's position as that allows:
//
//	AUTHN  INSERT_FIRST (before metadata exchange and ext_authz, so still
//	       before every authentication filter)
//	AUTHZ  before grpc_stats: after jwt_authn (JWT claims are available)
//	       but after Istio's RBAC too, so it cannot feed headers to RBAC
//	STATS  before fault: after grpc_stats, before istio.stats
//	unset  before router, as the WasmExtension API documents
//
// A network (TCP) chain is [metadata_exchange], [ext_authz], ◆AUTHN, ◆AUTHZ,
// [rbac], ◆STATS, ◆unset, [istio.stats], then tcp_proxy or, on HTTP chains,
// the HTTP connection manager. AUTHN goes first; the other phases go before
// the terminal filter (so after Istio's network RBAC and stats filters), one
// patch for each kind of terminal, and keep their relative order through the
// EnvoyFilter priority (envoyFilterPriority). Outbound chains for a protocol
// filter Istio knows (MySQL, Mongo) get the filter after it, right before
// tcp_proxy.
func phasePlacement(t v1alpha1.PluginType, p v1alpha1.PluginPhase) placement {
	if p == v1alpha1.PhaseAuthn {
		return placement{op: networking.EnvoyFilter_Patch_INSERT_FIRST}
	}
	before := func(anchors ...string) placement {
		return placement{op: networking.EnvoyFilter_Patch_INSERT_BEFORE, anchors: anchors}
	}
	if t == v1alpha1.PluginTypeNetwork {
		return before(filterTCPProxy, filterHCM)
	}
	switch p {
	case v1alpha1.PhaseAuthz:
		return before(filterGRPCStats)
	case v1alpha1.PhaseStats:
		return before(filterFault)
	}
	return before(filterRouter)
}

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

// filterPatches are the HTTP_FILTER (NETWORK_FILTER) patches inserting the
// ECDS filter called name at every insertion point.
func filterPatches(t v1alpha1.PluginType, p v1alpha1.PluginPhase, name string, points []insertionPoint) ([]*networking.EnvoyFilter_EnvoyConfigObjectPatch, error) {
	value, err := filterValue(t, name)
	if err != nil {
		return nil, err
	}
	pl := phasePlacement(t, p)
	anchors := pl.anchors
	if len(anchors) == 0 {
		anchors = []string{""}
	}
	var out []*networking.EnvoyFilter_EnvoyConfigObjectPatch
	for _, pt := range points {
		for _, anchor := range anchors {
			out = append(out, &networking.EnvoyFilter_EnvoyConfigObjectPatch{
				ApplyTo: applyTo(t),
				Match: &networking.EnvoyFilter_EnvoyConfigObjectMatch{
					Context:     pt.context,
					ObjectTypes: &networking.EnvoyFilter_EnvoyConfigObjectMatch_Listener{Listener: listenerMatch(t, pt.port, anchor)},
				},
				Patch: &networking.EnvoyFilter_Patch{Operation: pl.op, Value: value},
			})
		}
	}
	return out, nil
}

func applyTo(t v1alpha1.PluginType) networking.EnvoyFilter_ApplyTo {
	if t == v1alpha1.PluginTypeNetwork {
		return networking.EnvoyFilter_NETWORK_FILTER
	}
	return networking.EnvoyFilter_HTTP_FILTER
}

// listenerMatch selects the listeners on port (0: any) and, for an HTTP
// filter, the HTTP connection manager and the anchor inside it; for a
// network filter, the anchor itself. An empty anchor matches the whole list
// (INSERT_FIRST).
func listenerMatch(t v1alpha1.PluginType, port uint32, anchor string) *networking.EnvoyFilter_ListenerMatch {
	lm := &networking.EnvoyFilter_ListenerMatch{PortNumber: port}
	switch {
	case t != v1alpha1.PluginTypeNetwork:
		fm := &networking.EnvoyFilter_ListenerMatch_FilterMatch{Name: filterHCM}
		if anchor != "" {
			fm.SubFilter = &networking.EnvoyFilter_ListenerMatch_SubFilterMatch{Name: anchor}
		}
		lm.FilterChain = &networking.EnvoyFilter_ListenerMatch_FilterChainMatch{Filter: fm}
	case anchor != "":
		lm.FilterChain = &networking.EnvoyFilter_ListenerMatch_FilterChainMatch{
			Filter: &networking.EnvoyFilter_ListenerMatch_FilterMatch{Name: anchor},
		}
	}
	return lm
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
