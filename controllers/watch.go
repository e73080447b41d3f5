package controllers

import (
	"context"
	"sync"

	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// outputWatches starts, once per kind, the watch on rendered objects of an
// output kind, so a hand edit or deletion is repaired. A kind whose CRD
// appears after start-up is watched from then on.
type outputWatches struct {
	mu      sync.Mutex
	started map[v1alpha1.OutputKind]bool
	ctrl    controller.Controller
	mgr     ctrl.Manager
}

func outputObject(k v1alpha1.OutputKind) client.Object {
	switch k {
	case v1alpha1.OutputTrafficExtension:
		return &clientext.TrafficExtension{}
	case v1alpha1.OutputEnvoyFilter:
		return &clientnet.EnvoyFilter{}
	}
	return &clientext.WasmPlugin{}
}

// ensure watches every served output kind not watched yet.
func (w *outputWatches) ensure(served Served) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, o := range outputKinds {
		if !served[o.kind] || w.started[o.kind] {
			continue
		}
		h := handler.EnqueueRequestForOwner(w.mgr.GetScheme(), w.mgr.GetRESTMapper(), &v1alpha1.WasmExtension{}, handler.OnlyControllerOwner())
		if err := w.ctrl.Watch(source.Kind(w.mgr.GetCache(), outputObject(o.kind), h)); err != nil {
			return err
		}
		w.started[o.kind] = true
	}
	return nil
}

// isOutputCRD selects the CRDs of the output kinds.
func isOutputCRD(o client.Object) bool {
	for _, k := range outputKinds {
		if o.GetName() == k.crd {
			return true
		}
	}
	return false
}

// onOutputCRD reacts to an output CRD appearing, changing or going: it
// starts the watch on a new kind and reconciles every extension, so Auto
// re-chooses (the old objects are removed only after the new ones exist).
func (r *WasmExtensionReconciler) onOutputCRD(ctx context.Context, _ client.Object) []reconcile.Request {
	if r.Served == nil {
		return nil
	}
	if err := r.watches.ensure(r.Served()); err != nil {
		log.FromContext(ctx).Error(err, "Failed to watch a newly served output kind")
	}
	var list v1alpha1.WasmExtensionList
	if err := r.List(ctx, &list); err != nil {
		log.FromContext(ctx).Error(err, "Failed to list WasmExtensions after an output CRD changed")
		return nil
	}
	return requestsFor(&list)
}

// requestsFor turns a list of extensions into reconcile requests.
func requestsFor(list *v1alpha1.WasmExtensionList) []reconcile.Request {
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}
