package render

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	networking "istio.io/api/networking/v1alpha3"
	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"
)

// This file is a test-only model of how istiod applies EnvoyFilter listener
// patches (istio/istio pilot/pkg/networking/core/envoyfilter/listener_patch.go
// and EnvoyFilters in pilot/pkg/model/push_context.go), reduced to what the
// rendered patches use: NETWORK_FILTER and HTTP_FILTER patches, the
// operations ADD, INSERT_FIRST, INSERT_BEFORE, INSERT_AFTER, REPLACE and
// REMOVE, and matches on context, listener name and port, filter chain name
// (and destination port on virtual listeners), filter name and sub-filter
// name. Anything else a rendered patch uses fails the test rather than being
// ignored.

// mListener is a listener as EnvoyFilter patches see it.
type mListener struct {
	name   string
	port   uint32
	chains []*mChain
}

// mChain is a filter chain: its name, the destination port of its filter
// chain match (0: none) and its network filters.
type mChain struct {
	name     string
	destPort uint32
	filters  []*mFilter
}

// mFilter is a network filter; http holds the HTTP filters of an HCM.
type mFilter struct {
	name string
	http []string
}

// Istio's virtual listeners, on which the port of a patch is matched against
// the filter chains' destination port instead of the listener's.
func isVirtual(l *mListener) bool { return l.name == "virtualInbound" || l.name == "virtualOutbound" }

type patchesByKind map[networking.EnvoyFilter_ApplyTo][]*networking.EnvoyFilter_EnvoyConfigObjectPatch

// mergePatches sorts efs the way istiod sorts the EnvoyFilters of a proxy
// (priority; then the root namespace first; then creation time; then
// name.namespace) and concatenates their patches per applyTo in that order.
func mergePatches(efs []*clientnet.EnvoyFilter, root string) patchesByKind {
	sorted := slices.Clone(efs)
	slices.SortFunc(sorted, func(a, b *clientnet.EnvoyFilter) int {
		rootFirst := 0
		if a.Namespace != b.Namespace && (a.Namespace == root || b.Namespace == root) {
			rootFirst = map[bool]int{true: -1, false: 1}[a.Namespace == root]
		}
		return cmp.Or(
			cmp.Compare(a.Spec.Priority, b.Spec.Priority),
			rootFirst,
			a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time),
			cmp.Compare(a.Name+"."+a.Namespace, b.Name+"."+b.Namespace),
		)
	})
	out := patchesByKind{}
	for _, ef := range sorted {
		for _, p := range ef.Spec.ConfigPatches {
			out[p.ApplyTo] = append(out[p.ApplyTo], p)
		}
	}
	return out
}

// applyPatches patches listeners generated for patch context ctx in place:
// per filter chain, every NETWORK_FILTER patch in order, then, in every HCM,
// every HTTP_FILTER patch in order (patchNetworkFilters, patchHTTPFilters).
func applyPatches(t *testing.T, ctx networking.EnvoyFilter_PatchContext, patches patchesByKind, listeners []*mListener) {
	t.Helper()
	for applyTo := range patches {
		switch applyTo {
		case networking.EnvoyFilter_NETWORK_FILTER, networking.EnvoyFilter_HTTP_FILTER, networking.EnvoyFilter_EXTENSION_CONFIG:
		default:
			t.Fatalf("the model cannot apply %v patches", applyTo)
		}
	}
	for _, l := range listeners {
		for _, fc := range l.chains {
			for _, p := range patches[networking.EnvoyFilter_NETWORK_FILTER] {
				if !chainSelected(t, ctx, p, l, fc) {
					continue
				}
				fm := p.Match.GetListener().GetFilterChain().GetFilter()
				value := &mFilter{name: valueName(p)}
				fc.filters = applyOp(t, fc.filters, p.Patch.Operation, value, fm != nil,
					func(f *mFilter) bool { return f.name == fm.GetName() })
			}
			for _, f := range fc.filters {
				if f.name == filterHCM {
					f.http = applyHTTPPatches(t, ctx, patches[networking.EnvoyFilter_HTTP_FILTER], l, fc, f)
				}
			}
		}
	}
}

func applyHTTPPatches(t *testing.T, ctx networking.EnvoyFilter_PatchContext, patches []*networking.EnvoyFilter_EnvoyConfigObjectPatch,
	l *mListener, fc *mChain, hcm *mFilter,
) []string {
	http := hcm.http
	for _, p := range patches {
		fm := p.Match.GetListener().GetFilterChain().GetFilter()
		if !chainSelected(t, ctx, p, l, fc) || (fm != nil && fm.GetName() != hcm.name) {
			continue
		}
		sub := fm.GetSubFilter()
		http = applyOp(t, http, p.Patch.Operation, valueName(p), sub != nil,
			func(name string) bool { return name == sub.GetName() })
	}
	return http
}

// chainSelected is commonConditionMatch, listenerMatch and filterChainMatch.
func chainSelected(t *testing.T, ctx networking.EnvoyFilter_PatchContext, p *networking.EnvoyFilter_EnvoyConfigObjectPatch, l *mListener, fc *mChain) bool {
	t.Helper()
	if c := p.Match.GetContext(); c != ctx && c != networking.EnvoyFilter_ANY {
		return false
	}
	lm := p.Match.GetListener()
	if lm == nil {
		return true
	}
	if lm.ListenerFilter != "" || p.Match.GetProxy() != nil {
		t.Fatalf("the model does not match on %v", p.Match)
	}
	if lm.Name != "" && lm.Name != l.name {
		return false
	}
	if !isVirtual(l) && lm.PortNumber != 0 && lm.PortNumber != l.port {
		return false
	}
	if isVirtual(l) && lm.PortNumber != 0 && fc.destPort != lm.PortNumber {
		return false
	}
	m := lm.GetFilterChain()
	if m.GetSni() != "" || m.GetTransportProtocol() != "" || m.GetApplicationProtocols() != "" || m.GetDestinationPort() != 0 {
		t.Fatalf("the model does not match on %v", m)
	}
	return m.GetName() == "" || m.GetName() == fc.name
}

// applyOp is one operation on a filter list as listener_patch.go does it:
// hasMatch says whether the patch names a filter to match, matches is that
// match. INSERT_BEFORE and INSERT_AFTER act at the first match only and do
// nothing when nothing matches; without a filter to match they prepend and
// append. REPLACE replaces the first match; REMOVE removes every match.
func applyOp[E any](t *testing.T, list []E, op networking.EnvoyFilter_Patch_Operation, value E, hasMatch bool, matches func(E) bool) []E {
	t.Helper()
	list = slices.Clone(list)
	i := slices.IndexFunc(list, matches)
	switch op {
	case networking.EnvoyFilter_Patch_ADD:
		return append(list, value)
	case networking.EnvoyFilter_Patch_INSERT_FIRST:
		return slices.Insert(list, 0, value)
	case networking.EnvoyFilter_Patch_INSERT_BEFORE:
		if !hasMatch {
			return slices.Insert(list, 0, value)
		}
		if i >= 0 {
			return slices.Insert(list, i, value)
		}
	case networking.EnvoyFilter_Patch_INSERT_AFTER:
		if !hasMatch {
			return append(list, value)
		}
		if i >= 0 {
			return slices.Insert(list, i+1, value)
		}
	case networking.EnvoyFilter_Patch_REPLACE:
		if hasMatch && i >= 0 {
			list[i] = value
		}
	case networking.EnvoyFilter_Patch_REMOVE:
		if hasMatch {
			return slices.DeleteFunc(list, matches)
		}
	default:
		t.Fatalf("the model cannot apply %v", op)
	}
	return list
}

// valueName is the name of the filter a patch inserts ("" for REMOVE).
func valueName(p *networking.EnvoyFilter_EnvoyConfigObjectPatch) string {
	return p.GetPatch().GetValue().GetFields()["name"].GetStringValue()
}

// chainString shows a chain as "f1 > HCM[h1 > h2]".
func chainString(fc *mChain) string {
	var parts []string
	for _, f := range fc.filters {
		s := f.name
		if f.name == filterHCM {
			s = "HCM[" + strings.Join(f.http, " > ") + "]"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " > ")
}

// listenersString shows every chain of ls, one a line.
func listenersString(ls []*mListener) string {
	var b strings.Builder
	for _, l := range ls {
		for _, fc := range l.chains {
			fmt.Fprintf(&b, "%s/%s: %s\n", l.name, fc.name, chainString(fc))
		}
	}
	return b.String()
}

// TestApplyOpLikeIstio pins the model's operations to what listener_patch.go
// does, including the cases the rendered patches rely on: a missing anchor,
// REPLACE of the first of two, REMOVE of all.
func TestApplyOpLikeIstio(t *testing.T) {
	base := []string{"a", "p", "b", "p"}
	for _, c := range []struct {
		op       networking.EnvoyFilter_Patch_Operation
		match    string
		hasMatch bool
		want     string
	}{
		{networking.EnvoyFilter_Patch_INSERT_BEFORE, "b", true, "a p x b p"},
		{networking.EnvoyFilter_Patch_INSERT_BEFORE, "p", true, "a x p b p"},
		{networking.EnvoyFilter_Patch_INSERT_BEFORE, "missing", true, "a p b p"},
		{networking.EnvoyFilter_Patch_INSERT_BEFORE, "", false, "x a p b p"},
		{networking.EnvoyFilter_Patch_INSERT_AFTER, "p", true, "a p x b p"},
		{networking.EnvoyFilter_Patch_INSERT_AFTER, "missing", true, "a p b p"},
		{networking.EnvoyFilter_Patch_INSERT_AFTER, "", false, "a p b p x"},
		{networking.EnvoyFilter_Patch_INSERT_FIRST, "b", true, "x a p b p"},
		{networking.EnvoyFilter_Patch_ADD, "", false, "a p b p x"},
		{networking.EnvoyFilter_Patch_REPLACE, "p", true, "a x b p"},
		{networking.EnvoyFilter_Patch_REPLACE, "missing", true, "a p b p"},
		{networking.EnvoyFilter_Patch_REMOVE, "p", true, "a b"},
		{networking.EnvoyFilter_Patch_REMOVE, "", false, "a p b p"},
	} {
		got := applyOp(t, base, c.op, "x", c.hasMatch, func(s string) bool { return s == c.match })
		if strings.Join(got, " ") != c.want {
			t.Errorf("%v %q on %v = %v, want %s", c.op, c.match, base, got, c.want)
		}
	}
	if strings.Join(base, " ") != "a p b p" {
		t.Error("applyOp modified its input")
	}
}
