package render

import (
	"cmp"
	"slices"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// Order returns exts (non-nil, all selecting one proxy) in the order Istio
// runs their filters there:
//
//  1. by phase: AUTHN, AUTHZ, STATS, then no phase;
//  2. by priority, higher first (unset is 0, as the renderers write it);
//  3. the workload's own namespace before rootNamespace (empty:
//     DefaultRootNamespace);
//  4. by creation time, older first;
//  5. by name, then namespace, so that the order is total.
//
// This is what istiod does with WasmPlugins (WasmPluginsByListenerInfo in
// istio/istio pilot/pkg/model/push_context.go: it collects the plugins of the
// proxy's namespace, then of the root namespace, each list already sorted by
// creation time, name and namespace by sortConfigByCreationTime, and
// stable-sorts the result by priority within each phase). Istio reads the
// creation time of the rendered objects; Order reads the extensions', which
// the operator creates them after, so both agree unless a rendered object
// was recreated (a change of output, a deletion by hand). It does not modify
// exts.
func Order(exts []*v1alpha1.WasmExtension, rootNamespace string) []*v1alpha1.WasmExtension {
	rootNamespace = cmp.Or(rootNamespace, DefaultRootNamespace)
	out := slices.Clone(exts)
	slices.SortStableFunc(out, func(a, b *v1alpha1.WasmExtension) int {
		return cmp.Or(
			cmp.Compare(phaseRank(a.Spec.Phase), phaseRank(b.Spec.Phase)),
			cmp.Compare(priorityValue(b.Spec.Priority), priorityValue(a.Spec.Priority)),
			cmp.Compare(namespaceRank(a.Namespace, rootNamespace), namespaceRank(b.Namespace, rootNamespace)),
			a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time),
			cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Namespace, b.Namespace),
		)
	})
	return out
}

func phaseRank(p v1alpha1.PluginPhase) int {
	switch p {
	case v1alpha1.PhaseAuthn:
		return 0
	case v1alpha1.PhaseAuthz:
		return 1
	case v1alpha1.PhaseStats:
		return 2
	}
	return 3
}

func priorityValue(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// namespaceRank is 1 for the root namespace, whose extensions come after
// the workload's own at equal priority, and 0 for any other.
func namespaceRank(ns, root string) int {
	if ns == root {
		return 1
	}
	return 0
}

// EnvoyFilter priority bands, one per phase in phase order, each
// efBandWidth wide and centered on an odd multiple of efBandWidth/2;
// spec.priority is clamped to ±efMaxPriority so that its offset stays in
// the band.
const (
	efBandWidth   = 1_000_000_000
	efMaxPriority = (efBandWidth/2 - 2) / 2
)

// envoyFilterPriority derives the EnvoyFilter priority that makes istiod
// apply the filter patches of several extensions in Order; inRoot says the
// extension is in the mesh's root namespace.
//
// istiod applies the EnvoyFilters of a proxy in ascending priority (ties:
// root namespace first, then creationTimestamp, then name.namespace;
// EnvoyFilters in istio/istio pilot/pkg/model/push_context.go) and each
// patch sees the chain the previous ones left. Every phase inserts right
// before an anchor (see slotPatches), and repeated insertions before one
// anchor leave the filters in the order they were applied. So:
//
//   - each phase gets its own band, in phase order, so that phases that end
//     up before the same anchor come out in phase order;
//   - within a band, higher spec.priority is applied first: the offset is
//     -2·spec.priority;
//   - at equal spec.priority an extension in the root namespace is applied
//     after the others (+1), the opposite of istiod's own tie-break for
//     EnvoyFilters and the same as its order for WasmPlugins;
//   - what is left tied is ordered by istiod's creationTimestamp and name,
//     as WasmPlugins are.
//
// A spec.priority beyond ±249,999,999 is clamped. Only EnvoyFilters are
// ordered this way: istiod builds the WasmPlugin and TrafficExtension
// filters into the chain before it applies any EnvoyFilter, so priorities
// never order an EnvoyFilter-rendered extension against those (see the
// package doc).
func envoyFilterPriority(p v1alpha1.PluginPhase, prio *int32, inRoot bool) int32 {
	center := int64(phaseRank(p))*efBandWidth - 3*efBandWidth/2
	offset := -2 * min(max(int64(priorityValue(prio)), -efMaxPriority), efMaxPriority)
	if inRoot {
		offset++
	}
	return int32(center + offset)
}
