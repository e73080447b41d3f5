package crash

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// The output kinds other than WasmPlugin, read as metadata only.
var otherOutputs = []schema.GroupVersionKind{
	{Group: "extensions.istio.io", Version: "v1alpha1", Kind: "TrafficExtensionList"},
	{Group: "networking.istio.io", Version: "v1alpha3", Kind: "EnvoyFilterList"},
}

// checkEnd fails the test where the converged cluster differs from what was
// applied (see check), where the module server does not serve a module
// the extensions name (see checkServed), when no Lease shows a leader, or when /metrics does
// not serve the metricsReader token (or serves a request without one). It
// returns the reconciles of the running start by result.
func (h *harness) checkEnd(ctx context.Context, f *fleet, token string) map[string]float64 {
	h.t.Helper()
	var exts v1alpha1.WasmExtensionList
	if err := h.c.List(ctx, &exts); err != nil {
		h.t.Fatal(err)
	}
	objs, err := h.listRendered(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	p := check(exts.Items, objs, f.want, h.moduleServer)
	p = append(p, h.checkServed(ctx, exts.Items)...)
	if len(p) > 0 {
		h.t.Errorf("%d problems after the rollout converged:\n  %s", len(p), strings.Join(p[:min(len(p), 40)], "\n  "))
	}
	var leases coordinationv1.LeaseList
	if err := h.c.List(ctx, &leases, client.InNamespace(leaseNamespace)); err != nil {
		h.t.Fatal(err)
	}
	if len(leases.Items) != 1 || leases.Items[0].Spec.HolderIdentity == nil || *leases.Items[0].Spec.HolderIdentity == "" {
		h.t.Errorf("leader election: %d Leases in %s, want 1 with a holder", len(leases.Items), leaseNamespace)
	}
	reconciles, err := h.scrape(ctx, token)
	if err != nil {
		h.t.Errorf("metrics: %v", err)
	}
	return reconciles
}

// listRendered lists the objects of every output kind in every namespace.
func (h *harness) listRendered(ctx context.Context) ([]rendered, error) {
	var out []rendered
	var plugins clientext.WasmPluginList
	if err := h.c.List(ctx, &plugins); err != nil {
		return nil, err
	}
	for _, p := range plugins.Items {
		out = append(out, rendered{kind: "WasmPlugin", namespace: p.Namespace, name: p.Name, labels: p.Labels,
			owner: metav1.GetControllerOf(p), url: p.Spec.Url, sha256: p.Spec.Sha256})
	}
	for _, gvk := range otherOutputs {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk)
		if err := h.c.List(ctx, list); err != nil {
			return nil, fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		for i := range list.Items {
			m := &list.Items[i]
			out = append(out, rendered{kind: strings.TrimSuffix(gvk.Kind, "List"), namespace: m.Namespace, name: m.Name,
				labels: m.Labels, owner: metav1.GetControllerOf(m)})
		}
	}
	return out, nil
}

// nDeleteKills is how many times the operator is killed while it
// finalizes the deleted extensions.
const nDeleteKills = 3

// deleteAll deletes every extension and, once the tracker has seen every
// deletionTimestamp (later writes are the operator's), kills the operator
// nDeleteKills times while it finalizes them. It fails when an extension or
// an object of the operator's remains, and returns the kills and how long
// the deletion took.
func (h *harness) deleteAll(ctx context.Context, rng *rand.Rand, tr *tracker, f *fleet) ([]kill, time.Duration, error) {
	start := time.Now()
	namespaces := map[string]bool{}
	for k := range f.want {
		namespaces[k.Namespace] = true
	}
	// The deletion starts with the operator down, so that every kill below
	// lands while extensions are left to finalize: a running operator can
	// finalize 200 of them before the first kill's writes are counted.
	if err := h.kill9(); err != nil {
		return nil, 0, err
	}
	for ns := range namespaces {
		if err := h.c.DeleteAllOf(ctx, &v1alpha1.WasmExtension{}, client.InNamespace(ns)); err != nil {
			return nil, 0, err
		}
	}
	if err := tr.waitFor(ctx, lifeTimeout, nil, "the deletionTimestamp of every extension", func(_ int, exts map[types.NamespacedName]extState) bool {
		return allDeleting(exts, f.want)
	}); err != nil {
		return nil, 0, err
	}
	if err := errors.Join(h.expireLease(ctx), h.startOperator(ctx)); err != nil {
		return nil, 0, err
	}
	left := func(exts map[types.NamespacedName]extState) int { return len(exts) }
	kills, _, err := h.crashLoop(ctx, rng, tr, nDeleteKills, left, func(int) error {
		return errors.Join(h.expireLease(ctx), h.startOperator(ctx))
	})
	if err != nil {
		return nil, 0, err
	}
	for i, k := range kills {
		if k.pending == 0 {
			h.t.Errorf("deletion kill %d landed after every extension was gone", i+1)
		}
	}
	if err := tr.waitFor(ctx, 3*time.Minute, h.op.Exited(), "deletion of every extension", func(_ int, exts map[types.NamespacedName]extState) bool {
		return len(exts) == 0
	}); err != nil {
		return nil, 0, err
	}
	took := time.Since(start)
	return kills, took, h.checkNothingLeft(ctx, f)
}

// allDeleting tells whether every extension of want is being deleted or gone.
func allDeleting(exts map[types.NamespacedName]extState, want map[types.NamespacedName]module) bool {
	for k := range want {
		if s, ok := exts[k]; ok && !s.deleting {
			return false
		}
	}
	return true
}

// checkNothingLeft fails when an extension or an object of the operator's
// exists, other than one the garbage collector (which envtest does not
// run) would delete: controlled, blocking, by a gone extension that
// carried no finalizer.
func (h *harness) checkNothingLeft(ctx context.Context, f *fleet) error {
	var exts v1alpha1.WasmExtensionList
	if err := h.c.List(ctx, &exts); err != nil {
		return err
	}
	all, err := h.listRendered(ctx)
	if err != nil {
		return err
	}
	var objs []rendered
	for _, o := range all {
		key := types.NamespacedName{Namespace: o.namespace, Name: o.name}
		collectable := o.owner != nil && o.owner.BlockOwnerDeletion != nil && *o.owner.BlockOwnerDeletion && o.owner.Name == o.name
		if !collectable || f.legacy[key] {
			objs = append(objs, o)
		}
	}
	if p := check(exts.Items, objs, nil, h.moduleServer); len(exts.Items) > 0 || len(p) > 0 {
		return fmt.Errorf("after every extension was deleted, %d remain, and %d problems:\n  %s", len(exts.Items), len(p), strings.Join(p[:min(len(p), 40)], "\n  "))
	}
	return nil
}
