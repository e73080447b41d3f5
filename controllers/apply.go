package controllers

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/render"
)

// chooseOutputStep picks the output kind the cluster serves (the dry run
// needs it: each kind hands the plugin its configuration differently).
func (r *WasmExtensionReconciler) chooseOutputStep(ctx context.Context, s *scope) error {
	served, err := r.served(ctx)
	if err != nil {
		return stepError(v1alpha1.ConditionRendered, err)
	}
	if s.out, s.why, err = chooseOutput(s.ext.Spec.Output, served); err != nil {
		return stepError(v1alpha1.ConditionRendered, err)
	}
	return nil
}

// renderAndApply renders the objects of the chosen output and applies each
// unless the live object already matches; after a switch of output, the
// old objects are deleted only once the new ones exist.
func (r *WasmExtensionReconciler) renderAndApply(ctx context.Context, s *scope) error {
	out := s.out
	var err error
	if s.delivery, err = chooseDelivery(&s.ext.Spec, out.kind, s.facts, r.ModuleURL != nil, s.registryChecked); err != nil {
		return stepError(v1alpha1.ConditionRendered, err)
	}
	if out.kind != v1alpha1.OutputEnvoyFilter {
		// WasmPlugin and TrafficExtension carry pluginConfig as a
		// google.protobuf.Struct: numbers become doubles.
		s.lossy = render.StructLossyNumbers(s.ext.Spec.PluginConfig)
	}
	desired, err := out.render(r, s)
	if err != nil {
		return stepError(v1alpha1.ConditionRendered, err)
	}
	rendered := make([]v1alpha1.RenderedObject, 0, len(desired))
	for _, d := range desired {
		gvk := d.GetObjectKind().GroupVersionKind()
		rendered = append(rendered, v1alpha1.RenderedObject{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: d.GetName()})
	}
	for _, d := range desired {
		applied, err := r.applyObject(ctx, s.ext, out, d)
		if err != nil {
			return stepError(v1alpha1.ConditionRendered, err)
		}
		s.applied = s.applied || applied
	}
	if err := r.prune(ctx, s.ext, rendered); err != nil {
		return stepError(v1alpha1.ConditionRendered, err)
	}
	if err := r.checkMixing(ctx, s, out.gvk.Kind); err != nil {
		return stepError(v1alpha1.ConditionRendered, err)
	}
	s.rendered, s.url = rendered, r.moduleURL(s)
	return nil
}

// applyObject server-side applies desired when the cached live object
// differs from it. It reports whether it wrote. An object of that name that
// belongs to someone else is never taken over.
func (r *WasmExtensionReconciler) applyObject(ctx context.Context, ext *v1alpha1.WasmExtension, out *outputKind, desired client.Object) (bool, error) {
	live := out.newObject()
	err := r.Get(ctx, client.ObjectKeyFromObject(desired), live)
	switch {
	case err == nil && !liveDrifted(live, desired, out.spec, ext):
		return false, nil
	case err == nil && !renderedFor(live, ext):
		// The cache of a kind whose CRD appeared after start-up holds
		// everyone's objects: this one is someone else's.
		return false, nameConflict(out, live)
	case err == nil:
		// Ours but drifted: repair.
		return true, r.apply(ctx, desired, true)
	case !apierrors.IsNotFound(err):
		return false, err
	}
	err = r.apply(ctx, desired, false)
	if !apierrors.IsConflict(err) {
		return true, err
	}
	// A field conflict on an object the cache does not show: ours with the
	// label removed by hand (take it back), or someone else's (refuse).
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		return false, err
	}
	if !metav1.IsControlledBy(live, ext) {
		return false, nameConflict(out, live)
	}
	return true, r.apply(ctx, desired, true)
}

// renderedFor says whether live is ext's own rendered object: controlled
// by it, or carrying the labels the operator puts on what it renders for
// an extension of this name (its owner reference removed by hand, or an
// earlier extension of the same name deleted and not yet collected):
// repaired, and taken over.
func renderedFor(live client.Object, ext *v1alpha1.WasmExtension) bool {
	l := live.GetLabels()
	return metav1.IsControlledBy(live, ext) || l[render.LabelManagedBy] == render.ManagedBy && l[render.LabelExtension] == ext.Name
}

func nameConflict(out *outputKind, live client.Object) error {
	return fmt.Errorf("%w: %s %s/%s exists and is not managed by this WasmExtension; rename the extension or delete that object",
		errNameConflict, out.gvk.Kind, live.GetNamespace(), live.GetName())
}

// apply server-side applies obj as FieldOwner. force takes back fields a
// person changed by hand.
func (r *WasmExtensionReconciler) apply(ctx context.Context, obj client.Object, force bool) error {
	u, err := toUnstructured(obj)
	if err != nil {
		return err
	}
	opts := []client.ApplyOption{client.FieldOwner(FieldOwner)}
	if force {
		opts = append(opts, client.ForceOwnership)
	}
	return r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), opts...)
}

// toUnstructured converts a typed object through its JSON form (Istio's
// types marshal with protojson), dropping status, which the owner of the
// object's status writes.
func toUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(b, &u.Object); err != nil {
		return nil, err
	}
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}

// prune deletes what status says was rendered and is not in keep (an
// output switch, or every object when keep is empty). After a switch it
// runs only once the new objects are applied, so the workloads never go
// without the extension.
func (r *WasmExtensionReconciler) prune(ctx context.Context, ext *v1alpha1.WasmExtension, keep []v1alpha1.RenderedObject) error {
	kept := map[v1alpha1.RenderedObject]bool{}
	for _, o := range keep {
		kept[o] = true
	}
	for _, old := range ext.Status.Rendered {
		if kept[old] || outputForKind(old.Kind) == nil {
			continue
		}
		if err := client.IgnoreNotFound(r.Delete(ctx, objectFor(old, ext.Namespace))); err != nil && !meta.IsNoMatchError(err) {
			return fmt.Errorf("deleting %s %s: %w", old.Kind, old.Name, err)
		}
	}
	return nil
}
