package render

import (
	"slices"
	"strings"
	"testing"

	networking "istio.io/api/networking/v1alpha3"
	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

var allPhases = []v1alpha1.PluginPhase{v1alpha1.PhaseAuthn, v1alpha1.PhaseAuthz, v1alpha1.PhaseStats, ""}

func phaseName(p v1alpha1.PluginPhase) string { return strings.TrimPrefix(slotOf(p), "◆") }

func renderAll(t *testing.T, exts ...*v1alpha1.WasmExtension) []*clientnet.EnvoyFilter {
	t.Helper()
	var out []*clientnet.EnvoyFilter
	for _, e := range exts {
		efs, err := EnvoyFilters(e, testModule, goldenEFOptions)
		if err != nil {
			t.Fatalf("EnvoyFilters(%s/%s): %v", e.Namespace, e.Name, err)
		}
		out = append(out, efs...)
	}
	return out
}

// applied is the chains Istio builds for ctx and o, without Wasm filters,
// after istiod applied efs to them.
func applied(t *testing.T, efs []*clientnet.EnvoyFilter, ctx networking.EnvoyFilter_PatchContext, o istioOptions) []*mListener {
	t.Helper()
	ls := instantiate(templates(ctx, o, istioLayout), v1alpha1.PluginTypeHTTP, nil)
	applyPatches(t, ctx, mergePatches(efs, DefaultRootNamespace), ls)
	return ls
}

// expected is where the rendered filters of exts must be: Istio's own
// place, except for AUTHN and AUTHZ with a CUSTOM policy (renderedLayout).
func expected(ctx networking.EnvoyFilter_PatchContext, o istioOptions, typ v1alpha1.PluginType, exts ...*v1alpha1.WasmExtension) []*mListener {
	l := istioLayout
	if o.custom {
		l = renderedLayout
	}
	return instantiate(templates(ctx, o, l), typ, bySlot(exts))
}

// TestPlacementPerPhase applies the EnvoyFilter rendered for one extension
// of each type and phase, as istiod would, to the chains of an inbound
// sidecar, an outbound sidecar and a gateway, with and without each optional
// filter, and checks that the filter is exactly where Istio puts a
// WasmPlugin of that phase, once, and in no chain Istio leaves without.
func TestPlacementPerPhase(t *testing.T) {
	for _, typ := range []v1alpha1.PluginType{v1alpha1.PluginTypeHTTP, v1alpha1.PluginTypeNetwork} {
		for _, phase := range allPhases {
			e := ext("shop/x", typ, phase, nil)
			efs := renderAll(t, e)
			for _, ctx := range patchContexts {
				for _, o := range allIstioOptions() {
					got := applied(t, efs, ctx, o)
					name := caseName(typ, phaseName(phase), contextName(ctx), o)
					if g, w := listenersString(got), listenersString(expected(ctx, o, typ, e)); g != w {
						t.Errorf("%s:\n got:\n%s want:\n%s", name, g, w)
					}
					checkMeaning(t, name, got, map[string]v1alpha1.PluginPhase{FilterName(e): phase})
				}
			}
		}
	}
}

// TestPlacementKeepsOrder: many extensions of every phase, priority and of
// the workload's and the root namespace land in their phase's place in
// Order, on every chain.
func TestPlacementKeepsOrder(t *testing.T) {
	for _, typ := range []v1alpha1.PluginType{v1alpha1.PluginTypeHTTP, v1alpha1.PluginTypeNetwork} {
		exts := []*v1alpha1.WasmExtension{
			ext("shop/none-lo", typ, "", p32(-3)), ext("istio-system/stats", typ, v1alpha1.PhaseStats, nil),
			ext("shop/authn-lo", typ, v1alpha1.PhaseAuthn, p32(-1)), ext("shop/authz-hi", typ, v1alpha1.PhaseAuthz, p32(50)),
			ext("istio-system/none-hi", typ, "", p32(7)), ext("istio-system/authn-0", typ, v1alpha1.PhaseAuthn, nil),
			ext("shop/authn-0", typ, v1alpha1.PhaseAuthn, nil), ext("shop/authz-lo", typ, v1alpha1.PhaseAuthz, p32(-50)),
			ext("shop/none-0", typ, "", nil), ext("istio-system/none-0", typ, "", nil), ext("shop/stats-2", typ, v1alpha1.PhaseStats, p32(2)),
		}
		phases := map[string]v1alpha1.PluginPhase{}
		for _, e := range exts {
			phases[FilterName(e)] = e.Spec.Phase
		}
		efs := renderAll(t, exts...)
		for _, ctx := range patchContexts {
			for _, o := range allIstioOptions() {
				got := applied(t, efs, ctx, o)
				name := caseName(typ, contextName(ctx), o)
				if g, w := listenersString(got), listenersString(expected(ctx, o, typ, exts...)); g != w {
					t.Errorf("%s:\n got:\n%s want:\n%s", name, g, w)
				}
				checkMeaning(t, name, got, phases)
			}
		}
	}
}

// checkMeaning checks, on every filter list of ls, what each phase means
// whatever Istio's exact place: our filters appear at most once, no
// placeholder is left, AUTHN runs before jwt_authn, AUTHN and AUTHZ before
// every RBAC filter, STATS before istio.stats, and all before the router or
// the terminal network filter.
func checkMeaning(t *testing.T, name string, ls []*mListener, phases map[string]v1alpha1.PluginPhase) {
	t.Helper()
	for _, l := range ls {
		for _, fc := range l.chains {
			var lists [][]string
			var network []string
			for _, f := range fc.filters {
				network = append(network, f.name)
				if f.name == filterHCM {
					lists = append(lists, f.http)
				}
			}
			for _, list := range append(lists, network) {
				if msg := meaningViolation(list, phases); msg != "" {
					t.Errorf("%s: %s/%s: %s in %v", name, l.name, fc.name, msg, list)
				}
			}
		}
	}
}

func meaningViolation(list []string, phases map[string]v1alpha1.PluginPhase) string {
	mustPrecede := map[v1alpha1.PluginPhase][]string{
		v1alpha1.PhaseAuthn: {filterJWTAuthn, filterHTTPRBAC, filterNetRBAC, filterIstioStats},
		v1alpha1.PhaseAuthz: {filterHTTPRBAC, filterNetRBAC, filterIstioStats},
		v1alpha1.PhaseStats: {filterIstioStats},
		"":                  {filterIstioStats},
	}
	for i, f := range list {
		if strings.HasSuffix(f, "/placeholder") {
			return "a placeholder is left"
		}
		phase, ours := phases[f]
		if !ours {
			continue
		}
		if slices.Index(list[i+1:], f) >= 0 {
			return f + " is inserted twice"
		}
		for _, later := range append(mustPrecede[phase], filterRouter, filterMongoProxy, filterMySQLProxy, filterRedisProxy, filterTCPProxy, filterHCM) {
			if slices.Contains(list[:i], later) {
				return f + " runs after " + later
			}
		}
	}
	return ""
}

// TestNetworkFiltersSkipCatchAllChains: a network filter matching every
// port reaches the chains that carry traffic and none of those Istio
// builds without Wasm filters.
func TestNetworkFiltersSkipCatchAllChains(t *testing.T) {
	e := ext("shop/x", v1alpha1.PluginTypeNetwork, "", nil)
	efs := renderAll(t, e)
	skipped := []string{
		"virtualInbound/virtualInbound-blackhole", "connect_terminate/default", "10.0.0.1_9000/PassthroughFilterChain",
		"virtualOutbound/virtualOutbound-blackhole", "virtualOutbound/virtualOutbound-catchall-tcp",
	}
	carrying := []string{"virtualInbound/inbound|9000||", "virtualInbound/inbound|8080||", "10.0.0.1_9000/", "10.0.0.4_6379/", "0.0.0.0_9443/"}
	seen := map[string]bool{}
	for _, ctx := range patchContexts {
		for _, l := range applied(t, efs, ctx, istioOptions{stats: true}) {
			for _, fc := range l.chains {
				seen[l.name+"/"+fc.name] = slices.ContainsFunc(fc.filters, func(f *mFilter) bool { return f.name == FilterName(e) })
			}
		}
	}
	for _, c := range skipped {
		if v, ok := seen[c]; !ok || v {
			t.Errorf("chain %s: has the filter %v (known %v), want a known chain without it", c, v, ok)
		}
	}
	for _, c := range carrying {
		if !seen[c] {
			t.Errorf("chain %s lacks the filter", c)
		}
	}
}

// TestPlacementFollowsMatch: spec.match narrows the chains to the selected
// direction and port, on virtual listeners by the chain's destination port.
func TestPlacementFollowsMatch(t *testing.T) {
	for _, c := range []struct {
		typ   v1alpha1.PluginType
		match v1alpha1.TrafficSelector
		want  []string
	}{
		{v1alpha1.PluginTypeHTTP, v1alpha1.TrafficSelector{Mode: v1alpha1.ModeServer, Ports: []v1alpha1.PortNumber{8080}},
			[]string{"inbound:virtualInbound/inbound|8080||"}},
		{v1alpha1.PluginTypeHTTP, v1alpha1.TrafficSelector{Mode: v1alpha1.ModeClient, Ports: []v1alpha1.PortNumber{8080}},
			[]string{"outbound:0.0.0.0_8080/", "gateway:0.0.0.0_8080/"}},
		{v1alpha1.PluginTypeNetwork, v1alpha1.TrafficSelector{Mode: v1alpha1.ModeServer, Ports: []v1alpha1.PortNumber{9000}},
			[]string{"inbound:virtualInbound/inbound|9000||"}},
		{v1alpha1.PluginTypeNetwork, v1alpha1.TrafficSelector{Mode: v1alpha1.ModeClient, Ports: []v1alpha1.PortNumber{9000, 9443}},
			[]string{"outbound:10.0.0.1_9000/", "gateway:0.0.0.0_9443/"}},
	} {
		e := ext("shop/x", c.typ, v1alpha1.PhaseAuthz, nil)
		e.Spec.Match = []v1alpha1.TrafficSelector{c.match}
		efs := renderAll(t, e)
		var got []string
		for _, ctx := range patchContexts {
			for _, l := range applied(t, efs, ctx, istioOptions{rbac: true, stats: true}) {
				for _, fc := range l.chains {
					if strings.Contains(chainString(fc), FilterName(e)) {
						got = append(got, contextName(ctx)+":"+l.name+"/"+fc.name)
					}
				}
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s %+v: filter in %v, want %v", c.typ, c.match, got, c.want)
		}
	}
}
