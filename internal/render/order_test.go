package render

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// ext is a compact extension for ordering tests: "ns/name".
func ext(id string, typ v1alpha1.PluginType, phase v1alpha1.PluginPhase, prio *int32) *v1alpha1.WasmExtension {
	ns, name, _ := strings.Cut(id, "/")
	e := testExtension(func(s *v1alpha1.WasmExtensionSpec) { s.Type, s.Phase, s.Priority = typ, phase, prio })
	e.Namespace, e.Name = ns, name
	return e
}

// created sets e's creation time to the epoch plus s seconds.
func created(e *v1alpha1.WasmExtension, s int) *v1alpha1.WasmExtension {
	e.CreationTimestamp = metav1.NewTime(time.Unix(int64(s), 0))
	return e
}

func ids(exts []*v1alpha1.WasmExtension) []string {
	var out []string
	for _, e := range exts {
		out = append(out, e.Namespace+"/"+e.Name)
	}
	return out
}

func p32(v int32) *int32 { return &v }

var orderCases = []struct {
	name string
	root string
	in   []*v1alpha1.WasmExtension
	want []string
}{
	{"empty", "", nil, nil},
	{"phases", "", []*v1alpha1.WasmExtension{
		ext("a/none", http, "", nil),
		ext("a/stats", http, v1alpha1.PhaseStats, nil),
		ext("a/authz", http, v1alpha1.PhaseAuthz, nil),
		ext("a/authn", http, v1alpha1.PhaseAuthn, nil),
	}, []string{"a/authn", "a/authz", "a/stats", "a/none"}},
	{"phase before priority", "", []*v1alpha1.WasmExtension{
		ext("a/authz-high", http, v1alpha1.PhaseAuthz, p32(1000)),
		ext("a/authn-low", http, v1alpha1.PhaseAuthn, p32(-1000)),
	}, []string{"a/authn-low", "a/authz-high"}},
	{"priority higher first, unset is 0", "", []*v1alpha1.WasmExtension{
		ext("a/neg", http, "", p32(-5)),
		ext("a/unset", http, "", nil),
		ext("a/ten", http, "", p32(10)),
		ext("a/max", http, "", p32(math.MaxInt32)),
		ext("a/min", http, "", p32(math.MinInt32)),
		ext("a/one", http, "", p32(1)),
	}, []string{"a/max", "a/ten", "a/one", "a/unset", "a/neg", "a/min"}},
	{"priority before namespace", "", []*v1alpha1.WasmExtension{
		ext("shop/low", http, "", p32(1)),
		ext("istio-system/high", http, "", p32(2)),
	}, []string{"istio-system/high", "shop/low"}},
	{"own namespace before the root namespace, whatever the creation time", "", []*v1alpha1.WasmExtension{
		created(ext("istio-system/a-old", http, "", nil), 1),
		created(ext("shop/z-new", http, "", p32(0)), 9),
	}, []string{"shop/z-new", "istio-system/a-old"}},
	{"the root namespace is a parameter", "mesh-root", []*v1alpha1.WasmExtension{
		created(ext("mesh-root/a", http, "", nil), 1),
		created(ext("istio-system/b", http, "", nil), 2),
		created(ext("shop/c", http, "", nil), 3),
	}, []string{"istio-system/b", "shop/c", "mesh-root/a"}},
	{"then creation time, older first", "", []*v1alpha1.WasmExtension{
		created(ext("shop/a", http, "", nil), 30),
		created(ext("shop/b", http, "", nil), 10),
		created(ext("shop/c", http, "", nil), 20),
	}, []string{"shop/b", "shop/c", "shop/a"}},
	{"then name, then namespace", "", []*v1alpha1.WasmExtension{
		created(ext("shop/b", http, "", nil), 5),
		created(ext("shop/a", http, "", nil), 5),
		created(ext("ads/b", http, "", nil), 5),
	}, []string{"shop/a", "ads/b", "shop/b"}},
}

const http = v1alpha1.PluginTypeHTTP

func TestOrder(t *testing.T) {
	for _, c := range orderCases {
		t.Run(c.name, func(t *testing.T) {
			in := slices.Clone(c.in)
			got := Order(in, c.root)
			if !slices.Equal(ids(got), c.want) {
				t.Errorf("Order = %v, want %v", ids(got), c.want)
			}
			if !slices.Equal(in, c.in) {
				t.Error("Order modified its input")
			}
		})
	}
	// Equal keys keep their relative order: the HTTP one was second.
	in := []*v1alpha1.WasmExtension{ext("ns/same", v1alpha1.PluginTypeNetwork, "", nil), ext("ns/same", http, "", nil)}
	if got := Order(in, ""); got[0] != in[0] || got[1] != in[1] {
		t.Error("Order is not stable")
	}
}

func TestEnvoyFilterPriority(t *testing.T) {
	for _, c := range []struct {
		phase  v1alpha1.PluginPhase
		prio   *int32
		inRoot bool
		want   int32
	}{
		{v1alpha1.PhaseAuthn, nil, false, -1_500_000_000},
		{v1alpha1.PhaseAuthn, nil, true, -1_499_999_999},
		{v1alpha1.PhaseAuthn, p32(10), false, -1_500_000_020},
		{v1alpha1.PhaseAuthn, p32(math.MaxInt32), false, -1_999_999_998},
		{v1alpha1.PhaseAuthn, p32(math.MinInt32), true, -1_000_000_001},
		{v1alpha1.PhaseAuthz, nil, false, -500_000_000},
		{v1alpha1.PhaseAuthz, p32(10), false, -500_000_020},
		{v1alpha1.PhaseAuthz, p32(-10), true, -499_999_979},
		{v1alpha1.PhaseStats, p32(0), false, 500_000_000},
		{v1alpha1.PhaseStats, p32(249_999_999), false, 2},
		{v1alpha1.PhaseStats, p32(250_000_000), false, 2},
		{"", nil, false, 1_500_000_000},
		{"", p32(math.MinInt32), true, 1_999_999_999},
		{"", p32(math.MaxInt32), false, 1_000_000_002},
	} {
		if got := envoyFilterPriority(c.phase, c.prio, c.inRoot); got != c.want {
			t.Errorf("envoyFilterPriority(%q, %v, root %v) = %d, want %d", c.phase, priorityValue(c.prio), c.inRoot, got, c.want)
		}
	}
}

// TestEnvoyFilterPriorityFollowsOrder: applying EnvoyFilters by ascending
// priority, as istiod does, is applying them in Order, for every pair of
// distinct phase, priority and namespace class (creation time and name are
// istiod's own tie-break for both kinds).
func TestEnvoyFilterPriorityFollowsOrder(t *testing.T) {
	phases := []v1alpha1.PluginPhase{v1alpha1.PhaseAuthn, v1alpha1.PhaseAuthz, v1alpha1.PhaseStats, ""}
	prios := []*int32{p32(-249_999_999), p32(-1), nil, p32(1), p32(249_999_999)}
	var exts []*v1alpha1.WasmExtension
	for _, ph := range phases {
		for i, pr := range prios {
			for _, ns := range []string{"shop", "istio-system"} {
				exts = append(exts, ext(ns+"/"+string(ph)+"-"+string(rune('a'+i)), http, ph, pr))
			}
		}
	}
	ordered := Order(exts, "")
	for i := 1; i < len(ordered); i++ {
		a, b := ordered[i-1], ordered[i]
		pa := envoyFilterPriority(a.Spec.Phase, a.Spec.Priority, a.Namespace == DefaultRootNamespace)
		pb := envoyFilterPriority(b.Spec.Phase, b.Spec.Priority, b.Namespace == DefaultRootNamespace)
		if pa >= pb {
			t.Errorf("%s/%s (EnvoyFilter priority %d) runs before %s/%s (%d), but istiod would apply it no earlier",
				a.Namespace, a.Name, pa, b.Namespace, b.Name, pb)
		}
	}
}
