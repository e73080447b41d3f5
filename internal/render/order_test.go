package render

import (
	"math"
	"slices"
	"strings"
	"testing"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// ext is a compact extension for ordering tests: "ns/name".
func ext(id string, typ v1alpha1.PluginType, phase v1alpha1.PluginPhase, prio *int32) *v1alpha1.WasmExtension {
	ns, name, _ := strings.Cut(id, "/")
	e := testExtension(func(s *v1alpha1.WasmExtensionSpec) { s.Type, s.Phase, s.Priority = typ, phase, prio })
	e.Namespace, e.Name = ns, name
	return e
}

func ids(exts []*v1alpha1.WasmExtension) []string {
	var out []string
	for _, e := range exts {
		out = append(out, e.Namespace+"/"+e.Name)
	}
	return out
}

func TestOrder(t *testing.T) {
	const http = v1alpha1.PluginTypeHTTP
	p := func(v int32) *int32 { return &v }
	for _, c := range []struct {
		name string
		in   []*v1alpha1.WasmExtension
		want []string
	}{
		{"empty", nil, nil},
		{"phases", []*v1alpha1.WasmExtension{
			ext("a/none", http, "", nil),
			ext("a/stats", http, v1alpha1.PhaseStats, nil),
			ext("a/authz", http, v1alpha1.PhaseAuthz, nil),
			ext("a/authn", http, v1alpha1.PhaseAuthn, nil),
		}, []string{"a/authn", "a/authz", "a/stats", "a/none"}},
		{"phase before priority", []*v1alpha1.WasmExtension{
			ext("a/authz-high", http, v1alpha1.PhaseAuthz, p(1000)),
			ext("a/authn-low", http, v1alpha1.PhaseAuthn, p(-1000)),
		}, []string{"a/authn-low", "a/authz-high"}},
		{"priority higher first, unset is 0", []*v1alpha1.WasmExtension{
			ext("a/neg", http, "", p(-5)),
			ext("a/unset", http, "", nil),
			ext("a/ten", http, "", p(10)),
			ext("a/max", http, "", p(math.MaxInt32)),
			ext("a/min", http, "", p(math.MinInt32)),
			ext("a/one", http, "", p(1)),
		}, []string{"a/max", "a/ten", "a/one", "a/unset", "a/neg", "a/min"}},
		{"ties by namespace then name", []*v1alpha1.WasmExtension{
			ext("shop/b", http, "", p(0)),
			ext("shop/a", http, "", nil),
			ext("istio-system/z", http, "", nil),
			ext("ads/c", http, "", nil),
		}, []string{"ads/c", "istio-system/z", "shop/a", "shop/b"}},
		{"stable for equal keys", []*v1alpha1.WasmExtension{
			ext("ns/same", v1alpha1.PluginTypeNetwork, "", nil),
			ext("ns/same", http, "", nil),
		}, []string{"ns/same", "ns/same"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := slices.Clone(c.in)
			got := Order(in)
			if !slices.Equal(ids(got), c.want) {
				t.Errorf("Order = %v, want %v", ids(got), c.want)
			}
			if !slices.Equal(in, c.in) {
				t.Error("Order modified its input")
			}
		})
	}
	// Stability: the HTTP one was second and stays second.
	in := []*v1alpha1.WasmExtension{ext("ns/same", v1alpha1.PluginTypeNetwork, "", nil), ext("ns/same", http, "", nil)}
	if got := Order(in); got[0] != in[0] || got[1] != in[1] {
		t.Error("Order is not stable")
	}
}

func TestEnvoyFilterPriority(t *testing.T) {
	p := func(v int32) *int32 { return &v }
	for _, c := range []struct {
		phase v1alpha1.PluginPhase
		prio  *int32
		want  int32
	}{
		{v1alpha1.PhaseAuthn, nil, -1_500_000_000},
		{v1alpha1.PhaseAuthn, p(10), -1_499_999_990},
		{v1alpha1.PhaseAuthn, p(math.MaxInt32), -1_000_000_001},
		{v1alpha1.PhaseAuthn, p(math.MinInt32), -1_999_999_999},
		{v1alpha1.PhaseAuthz, nil, -500_000_000},
		{v1alpha1.PhaseAuthz, p(10), -500_000_010},
		{v1alpha1.PhaseAuthz, p(-10), -499_999_990},
		{v1alpha1.PhaseStats, p(0), 500_000_000},
		{v1alpha1.PhaseStats, p(math.MaxInt32), 1},
		{"", nil, 1_500_000_000},
		{"", p(math.MinInt32), 1_999_999_999},
		{"", p(math.MaxInt32), 1_000_000_001},
	} {
		if got := envoyFilterPriority(c.phase, c.prio); got != c.want {
			t.Errorf("envoyFilterPriority(%q, %v) = %d, want %d", c.phase, priorityValue(c.prio), got, c.want)
		}
	}
}

// Chains as Istio generates them, reduced to the filters that matter: the
// anchors, and the conditional filters around which Istio places phases.
var (
	istioHTTPChain = []string{
		"istio.metadata_exchange", "envoy.filters.http.jwt_authn", "envoy.filters.http.rbac",
		filterGRPCStats, filterFault, "envoy.filters.http.cors", "istio.stats", filterRouter,
	}
	istioTCPChain = []string{"istio.metadata_exchange", "envoy.filters.network.rbac", "istio.stats", filterTCPProxy}
	istioHCMChain = []string{"istio.metadata_exchange", filterHCM}
)

// TestEnvoyFiltersFollowOrder applies the rendered filter patches the way
// istiod does (EnvoyFilters by ascending priority; INSERT_FIRST prepends,
// INSERT_BEFORE goes before the first anchor) and checks that the filters
// come out in Order, and each phase on its side of Istio's own filters.
func TestEnvoyFiltersFollowOrder(t *testing.T) {
	p := func(v int32) *int32 { return &v }
	for _, typ := range []v1alpha1.PluginType{v1alpha1.PluginTypeHTTP, v1alpha1.PluginTypeNetwork} {
		exts := []*v1alpha1.WasmExtension{
			ext("a/none-lo", typ, "", p(-3)), ext("a/stats", typ, v1alpha1.PhaseStats, nil),
			ext("a/authn-lo", typ, v1alpha1.PhaseAuthn, p(-1)), ext("a/authz-hi", typ, v1alpha1.PhaseAuthz, p(50)),
			ext("a/none-hi", typ, "", p(7)), ext("a/authn-hi", typ, v1alpha1.PhaseAuthn, p(100)),
			ext("a/authz-lo", typ, v1alpha1.PhaseAuthz, p(-50)), ext("a/none-mid", typ, "", nil),
		}
		want := ids(Order(exts))
		chains := [][]string{istioHTTPChain}
		if typ == v1alpha1.PluginTypeNetwork {
			chains = [][]string{istioTCPChain, istioHCMChain}
		}
		for _, base := range chains {
			got := applyLikeIstio(t, exts, base)
			var ours []string
			for _, f := range got {
				if id, ok := strings.CutPrefix(f, "wasmext.io/"); ok {
					ours = append(ours, id)
				}
			}
			if !slices.Equal(ours, want) {
				t.Errorf("%s chain %v: our filters run as %v, want %v", typ, base, ours, want)
			}
			checkPhasePositions(t, typ, got)
		}
	}
}

// applyLikeIstio renders exts and patches base the way istiod would for a
// proxy they all select, on the listener context SIDECAR_INBOUND.
func applyLikeIstio(t *testing.T, exts []*v1alpha1.WasmExtension, base []string) []string {
	t.Helper()
	type rendered struct {
		prio    int32
		patches []*networking.EnvoyFilter_EnvoyConfigObjectPatch
	}
	var all []rendered
	for _, e := range exts {
		efs, err := EnvoyFilters(e, testModule, goldenEFOptions)
		if err != nil {
			t.Fatal(err)
		}
		r := rendered{prio: efs[0].Spec.Priority}
		for _, p := range efs[0].Spec.ConfigPatches {
			if p.ApplyTo != networking.EnvoyFilter_EXTENSION_CONFIG {
				r.patches = append(r.patches, p)
			}
		}
		all = append(all, r)
	}
	slices.SortStableFunc(all, func(a, b rendered) int { return int(int64(a.prio) - int64(b.prio)) })
	chain := slices.Clone(base)
	for _, r := range all {
		for _, p := range r.patches {
			fc := p.Match.GetListener().GetFilterChain()
			anchor := fc.GetFilter().GetSubFilter().GetName()
			if p.ApplyTo == networking.EnvoyFilter_NETWORK_FILTER {
				anchor = fc.GetFilter().GetName()
			}
			name := p.Patch.Value.Fields["name"].GetStringValue()
			switch p.Patch.Operation {
			case networking.EnvoyFilter_Patch_INSERT_FIRST:
				chain = slices.Insert(chain, 0, name)
			case networking.EnvoyFilter_Patch_INSERT_BEFORE:
				if i := slices.Index(chain, anchor); i >= 0 {
					chain = slices.Insert(chain, i, name)
				}
			default:
				t.Fatalf("unexpected operation %v", p.Patch.Operation)
			}
		}
	}
	return chain
}

// checkPhasePositions checks each phase against Istio's filters: AUTHN
// before authentication, AUTHZ after jwt_authn (its claims available), STATS
// before istio.stats, no phase right before the router (HTTP) and every
// network filter before the terminal one.
func checkPhasePositions(t *testing.T, typ v1alpha1.PluginType, chain []string) {
	t.Helper()
	at := func(f string) int { return slices.Index(chain, f) }
	for i, f := range chain {
		id, ok := strings.CutPrefix(f, "wasmext.io/a/")
		if !ok {
			continue
		}
		phase, _, _ := strings.Cut(id, "-")
		var bad bool
		switch {
		case phase == "authn":
			bad = i > at("istio.metadata_exchange") || (typ == v1alpha1.PluginTypeHTTP && i > at("envoy.filters.http.jwt_authn"))
		case typ == v1alpha1.PluginTypeNetwork:
			bad = at(filterTCPProxy) >= 0 && i > at(filterTCPProxy) || at(filterHCM) >= 0 && i > at(filterHCM)
		case phase == "authz":
			bad = i < at("envoy.filters.http.jwt_authn") || i > at(filterGRPCStats)
		case phase == "stats":
			bad = i > at("istio.stats")
		case phase == "none":
			bad = i > at(filterRouter) || i < at("istio.stats")
		}
		if bad {
			t.Errorf("%s: %s is misplaced in %v", typ, f, chain)
		}
	}
}
