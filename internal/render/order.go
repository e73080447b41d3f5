package render

import (
	"cmp"
	"slices"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// Order returns exts (non-nil) in the order their filters run on a proxy
// they all select: by phase (AUTHN, AUTHZ, STATS, then no phase), then by
// priority, higher first (unset is 0), then by namespace and name. It does
// not modify exts; equal extensions keep their relative order.
func Order(exts []*v1alpha1.WasmExtension) []*v1alpha1.WasmExtension {
	out := slices.Clone(exts)
	slices.SortStableFunc(out, func(a, b *v1alpha1.WasmExtension) int {
		return cmp.Or(
			cmp.Compare(phaseRank(a.Spec.Phase), phaseRank(b.Spec.Phase)),
			cmp.Compare(priorityValue(b.Spec.Priority), priorityValue(a.Spec.Priority)),
			cmp.Compare(a.Namespace, b.Namespace),
			cmp.Compare(a.Name, b.Name),
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

// EnvoyFilter priority bands, one per phase in phase order, each
// efBandWidth wide and centered on a multiple of it; spec.priority is clamped
// to ±efMaxOffset within its band.
const (
	efBandWidth = 1_000_000_000
	efMaxOffset = efBandWidth/2 - 1
)

// envoyFilterPriority derives the EnvoyFilter priority that makes Istio
// insert the filters of several extensions in Order.
//
// istiod applies EnvoyFilters in ascending priority (ties: root namespace
// first, then creationTimestamp, then name.namespace) and each patch sees
// the chain the previous ones left. Repeated INSERT_BEFORE on one anchor
// leaves the filters in the order they were applied; repeated INSERT_FIRST
// leaves them reversed. So:
//
//   - each phase gets its own band, in phase order, so that phases sharing
//     an anchor (network AUTHZ, STATS and unset all go before the terminal
//     filter) come out in phase order;
//   - within a band the priority is -spec.priority (higher spec.priority is
//     applied first, lands first) except for AUTHN, whose INSERT_FIRST needs
//     +spec.priority (higher is applied last, lands first).
//
// A spec.priority beyond ±499,999,999 is clamped, and equal priorities are
// ordered by istiod's tie-break, not by namespace and name (for AUTHN in
// reverse): an EnvoyFilter priority cannot encode both.
func envoyFilterPriority(p v1alpha1.PluginPhase, prio *int32) int32 {
	center := int64(phaseRank(p))*efBandWidth - 3*efBandWidth/2
	offset := int64(priorityValue(prio))
	if p != v1alpha1.PhaseAuthn {
		offset = -offset
	}
	return int32(center + min(max(offset, -efMaxOffset), efMaxOffset))
}
