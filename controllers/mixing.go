package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// EnvoyFilter-rendered plugins are not ordered by priority against
// WasmPlugin- or TrafficExtension-rendered ones: istiod builds the latter
// into the chain first and applies EnvoyFilters afterwards (see
// internal/render doc.go, Ordering). So an extension rendered into one
// family that may share workloads with one rendered into the other is told
// so in status.

// renderFamily is "EnvoyFilter" or "Istio extension" for a rendered kind.
func renderFamily(kind string) string {
	if kind == outputFor(v1alpha1.OutputEnvoyFilter).gvk.Kind {
		return "EnvoyFilter"
	}
	return "Istio extension"
}

// mayShareWorkloads says whether two extensions of one namespace could
// select the same workload: both by selector with no label that tells them
// apart (no selector selects every workload), or both naming a common
// target. A selector and targetRefs attach differently (sidecars vs
// gateways or waypoints): not counted.
func mayShareWorkloads(a, b *v1alpha1.WasmExtensionSpec) bool {
	if (len(a.TargetRefs) > 0) != (len(b.TargetRefs) > 0) {
		return false
	}
	if len(a.TargetRefs) > 0 {
		for _, x := range a.TargetRefs {
			for _, y := range b.TargetRefs {
				if x.Kind == y.Kind && x.Name == y.Name && x.Group == y.Group {
					return true
				}
			}
		}
		return false
	}
	var la, lb map[string]string
	if a.Selector != nil {
		la = a.Selector.MatchLabels
	}
	if b.Selector != nil {
		lb = b.Selector.MatchLabels
	}
	for k, v := range la {
		if w, ok := lb[k]; ok && w != v {
			return false
		}
	}
	return true
}

// mixedWith lists the other extensions that render into the other family
// and may share workloads with ext, which renders kind.
func mixedWith(ext *v1alpha1.WasmExtension, kind string, others []v1alpha1.WasmExtension) []string {
	var names []string
	for i := range others {
		o := &others[i]
		if o.Name == ext.Name || len(o.Status.Rendered) == 0 || renderFamily(o.Status.Rendered[0].Kind) == renderFamily(kind) {
			continue
		}
		if mayShareWorkloads(&ext.Spec, &o.Spec) {
			names = append(names, o.Name+" ("+o.Status.Rendered[0].Kind+")")
		}
	}
	sort.Strings(names)
	return names
}

// familyIndex indexes extensions by the family their first rendered
// object belongs to (renderFamily), so checkMixing reads only the
// extensions of the other family. Listing the whole namespace instead made
// every reconcile cost O(extensions in the namespace): in a rollout of
// 1,000 extensions into one namespace it was the operator's largest CPU
// cost (make bench -pprof), though almost none were of the other family.
const familyIndex = ".status.rendered.family"

func indexFamily(o client.Object) []string {
	ext, ok := o.(*v1alpha1.WasmExtension)
	if !ok || len(ext.Status.Rendered) == 0 {
		return nil
	}
	return []string{renderFamily(ext.Status.Rendered[0].Kind)}
}

// otherFamily is the family the extensions that kind is not ordered
// against render into.
func otherFamily(kind string) string {
	if renderFamily(kind) == "EnvoyFilter" {
		return renderFamily("")
	}
	return renderFamily(outputFor(v1alpha1.OutputEnvoyFilter).gvk.Kind)
}

// checkMixing records, from the cache (no API request), the extensions of
// the namespace whose order against this one Istio's priorities do not
// decide: those of the other family (familyIndex). The list shares the
// cache's objects (UnsafeDisableDeepCopy) and is only read.
func (r *WasmExtensionReconciler) checkMixing(ctx context.Context, s *scope, kind string) error {
	var list v1alpha1.WasmExtensionList
	if err := r.List(ctx, &list, client.InNamespace(s.ext.Namespace), client.MatchingFields{familyIndex: otherFamily(kind)},
		client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	s.mixed = mixedWith(s.ext, kind, list.Items)
	return nil
}

// mixingNote says that priority does not order these extensions.
func mixingNote(mixed []string) string {
	if len(mixed) == 0 {
		return ""
	}
	return fmt.Sprintf("; warning: %s may run on the same workloads but render(s) another kind, so priority does not order them against this one; render them all with the same output",
		strings.Join(mixed, ", "))
}
