package rbac

import (
	"context"
	"errors"
	"fmt"

	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

func (r *run) extension(name, image string, out v1alpha1.OutputKind) *v1alpha1.WasmExtension {
	return &v1alpha1.WasmExtension{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: name},
		Spec: v1alpha1.WasmExtensionSpec{
			Module: v1alpha1.ModuleSource{Image: image, Insecure: true},
			Output: out,
			Phase:  v1alpha1.PhaseAuthn,
		},
	}
}

// theirs is an Istio object someone else made, of the name an extension
// renders: spec fields the operator also sets, so that its apply conflicts.
func (r *run) theirs(kind, apiVersion, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": r.ns},
		"spec":     spec,
	}}
}

// setUp creates the run's namespace and everything the scenarios observe,
// before the manager starts.
func (r *run) setUp(ctx context.Context) error {
	pulled := r.extension("pulled", r.h.pulled, v1alpha1.OutputWasmPlugin)
	pulled.Spec.Module.PullSecretRef = &v1alpha1.LocalObjectReference{Name: "regcred"}
	signed := r.extension("signed", r.h.signed, v1alpha1.OutputWasmPlugin)
	signed.Spec.Module.PullSecretRef = &v1alpha1.LocalObjectReference{Name: "regcred"}
	signed.Spec.Verify = &v1alpha1.Verification{Cosign: v1alpha1.CosignVerification{
		PublicKeySecretRef: &v1alpha1.LocalObjectReference{Name: "cosign-pub"}}}
	wp, ef, te := v1alpha1.OutputWasmPlugin, v1alpha1.OutputEnvoyFilter, v1alpha1.OutputTrafficExtension
	const other = "oci://other.example.com/theirs:v1"
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.ns}},
		r.h.dockerSecret(r.ns), r.h.keySecret(r.ns),
		r.theirs("WasmPlugin", "extensions.istio.io/v1alpha1", "cf-wp", map[string]any{"url": other, "phase": "STATS"}),
		r.theirs("TrafficExtension", "extensions.istio.io/v1alpha1", "cf-te", map[string]any{"phase": "STATS", "wasm": map[string]any{"url": other}}),
		r.theirs("EnvoyFilter", "networking.istio.io/v1alpha3", "cf-ef", map[string]any{"priority": 7, "configPatches": []any{
			map[string]any{"applyTo": "HTTP_FILTER", "patch": map[string]any{"operation": "INSERT_BEFORE", "value": map[string]any{"name": "theirs"}}},
		}}),
		pulled, signed,
		r.extension("ef", r.h.plain, ef), r.extension("te", r.h.plain, te),
		r.extension("repaired", r.h.plain, wp), r.extension("deleted", r.h.plain, wp),
		r.extension("sw-wp", r.h.plain, wp), r.extension("sw-ef", r.h.plain, ef), r.extension("sw-te", r.h.plain, te),
		r.extension("cf-wp", r.h.plain, wp), r.extension("cf-ef", r.h.plain, ef), r.extension("cf-te", r.h.plain, te),
	}
	for _, o := range objs {
		if err := r.h.c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// cleanUp, once the manager stopped, removes the run's extensions (their
// finalizers first: nobody else removes them) and rendered objects, the
// Lease and the leader election Events, so the next manager starts clean.
func (r *run) cleanUp(ctx context.Context) error {
	c := r.h.c
	var list v1alpha1.WasmExtensionList
	if err := c.List(ctx, &list, client.InNamespace(r.ns)); err != nil {
		return err
	}
	var errs []error
	for i := range list.Items {
		ext := &list.Items[i]
		patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
		errs = append(errs, client.IgnoreNotFound(c.Patch(ctx, ext, patch)), client.IgnoreNotFound(c.Delete(ctx, ext)))
	}
	for _, o := range []client.Object{&clientext.WasmPlugin{}, &clientext.TrafficExtension{}, &clientnet.EnvoyFilter{}} {
		errs = append(errs, c.DeleteAllOf(ctx, o, client.InNamespace(r.ns)))
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: leaseName}}
	errs = append(errs, client.IgnoreNotFound(c.Delete(ctx, lease)),
		c.DeleteAllOf(ctx, &corev1.Event{}, client.InNamespace(operatorNS)))
	return errors.Join(errs...)
}
