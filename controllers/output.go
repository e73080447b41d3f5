package controllers

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/render"
)

// errOutputUnavailable marks an output whose CRD the cluster does not serve.
var errOutputUnavailable = errors.New("output unavailable")

// outputKinds maps each concrete output to the GroupKind of its CRD, in
// Auto's order of preference.
var outputKinds = []struct {
	kind v1alpha1.OutputKind
	gk   schema.GroupKind
	crd  string
}{
	{v1alpha1.OutputTrafficExtension, schema.GroupKind{Group: "extensions.istio.io", Kind: "TrafficExtension"}, "trafficextensions.extensions.istio.io"},
	{v1alpha1.OutputWasmPlugin, schema.GroupKind{Group: "extensions.istio.io", Kind: "WasmPlugin"}, "wasmplugins.extensions.istio.io"},
	{v1alpha1.OutputEnvoyFilter, schema.GroupKind{Group: "networking.istio.io", Kind: "EnvoyFilter"}, "envoyfilters.networking.istio.io"},
}

// Served is the set of outputs whose CRDs the cluster serves.
type Served map[v1alpha1.OutputKind]bool

// ServedFromMapper asks the RESTMapper (discovery) which outputs exist.
func ServedFromMapper(m meta.RESTMapper) Served {
	s := Served{}
	for _, o := range outputKinds {
		if _, err := m.RESTMapping(o.gk); err == nil {
			s[o.kind] = true
		}
	}
	return s
}

// chooseOutput picks the output to render and says why. Auto prefers
// TrafficExtension (which supersedes WasmPlugin), then WasmPlugin, then
// EnvoyFilter; an explicit choice must be served.
func chooseOutput(want v1alpha1.OutputKind, served Served) (v1alpha1.OutputKind, string, error) {
	if want == "" {
		want = v1alpha1.OutputAuto
	}
	for _, o := range outputKinds {
		if want != v1alpha1.OutputAuto && want != o.kind {
			continue
		}
		if served[o.kind] {
			if want == v1alpha1.OutputAuto {
				return o.kind, fmt.Sprintf("output Auto chose %s: the cluster serves %s", o.kind, o.crd), nil
			}
			return o.kind, fmt.Sprintf("output %s", o.kind), nil
		}
		if want != v1alpha1.OutputAuto {
			return "", "", fmt.Errorf("%w: output %s needs the CRD %s, which the cluster does not serve; install it or use output Auto",
				errOutputUnavailable, o.kind, o.crd)
		}
	}
	return "", "", fmt.Errorf("%w: the cluster serves none of TrafficExtension, WasmPlugin and EnvoyFilter; install Istio's CRDs",
		errOutputUnavailable)
}

// desiredObjects renders the objects of the chosen output.
func (r *WasmExtensionReconciler) desiredObjects(s *scope, kind v1alpha1.OutputKind) ([]client.Object, error) {
	m := render.Module{Repository: s.facts.Repository, Digest: s.facts.Digest}
	switch kind {
	case v1alpha1.OutputTrafficExtension:
		o, err := render.TrafficExtension(s.ext, m)
		return []client.Object{o}, err
	case v1alpha1.OutputEnvoyFilter:
		if r.ModuleURL == nil {
			return nil, fmt.Errorf("%w: output EnvoyFilter needs the operator's module server (--module-server-url)", errOutputUnavailable)
		}
		efs, err := render.EnvoyFilters(s.ext, m, render.EnvoyFilterOptions{ModuleURL: r.ModuleURL(s.facts.SHA256), SHA256: s.facts.SHA256})
		objs := make([]client.Object, 0, len(efs))
		for _, ef := range efs {
			objs = append(objs, ef)
		}
		return objs, err
	default:
		o, err := render.WasmPlugin(s.ext, m)
		return []client.Object{o}, err
	}
}

// specOf returns the Istio spec of a rendered object, for comparison.
func specOf(o client.Object) proto.Message {
	switch v := o.(type) {
	case *clientext.WasmPlugin:
		return &v.Spec
	case *clientext.TrafficExtension:
		return &v.Spec
	case *clientnet.EnvoyFilter:
		return &v.Spec
	}
	return nil
}

// newEmpty returns an empty object of o's type.
func newEmpty(o client.Object) client.Object {
	switch o.(type) {
	case *clientext.TrafficExtension:
		return &clientext.TrafficExtension{}
	case *clientnet.EnvoyFilter:
		return &clientnet.EnvoyFilter{}
	}
	return &clientext.WasmPlugin{}
}

// objectFor returns an empty typed object for a RenderedObject record.
func objectFor(ro v1alpha1.RenderedObject, ns string) client.Object {
	var o client.Object
	switch ro.Kind {
	case "TrafficExtension":
		o = &clientext.TrafficExtension{}
	case "EnvoyFilter":
		o = &clientnet.EnvoyFilter{}
	default:
		o = &clientext.WasmPlugin{}
	}
	o.SetName(ro.Name)
	o.SetNamespace(ns)
	return o
}

// prune deletes what was rendered before and is not rendered now (an
// output switch). It runs only after the new objects were applied, so the
// workloads never go without the extension.
func (r *WasmExtensionReconciler) prune(ctx context.Context, ext *v1alpha1.WasmExtension, now []v1alpha1.RenderedObject) error {
	keep := map[v1alpha1.RenderedObject]bool{}
	for _, o := range now {
		keep[o] = true
	}
	for _, old := range ext.Status.Rendered {
		if keep[old] {
			continue
		}
		if err := client.IgnoreNotFound(r.Delete(ctx, objectFor(old, ext.Namespace))); err != nil && !meta.IsNoMatchError(err) {
			return fmt.Errorf("deleting %s %s after switching output: %w", old.Kind, old.Name, err)
		}
	}
	return nil
}
