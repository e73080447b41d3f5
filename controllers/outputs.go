package controllers

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/render"
)

// errOutputUnavailable marks an output whose CRD the cluster does not serve.
var errOutputUnavailable = errors.New("output unavailable")

// outputKind is everything the controller knows about one output: a fourth
// output is one more row in outputKinds.
type outputKind struct {
	kind v1alpha1.OutputKind
	gvk  schema.GroupVersionKind
	crd  string // name of the CRD that serves it
	// newObject returns an empty typed object of the kind.
	newObject func() client.Object
	// spec returns the Istio spec of an object of the kind, for comparison.
	spec func(client.Object) proto.Message
	// status returns the status istiod writes on an object of the kind.
	status func(client.Object) proto.Message
	// render renders the objects of the kind for one extension.
	render func(r *WasmExtensionReconciler, s *scope) ([]client.Object, error)
}

// outputKinds lists the outputs in Auto's order of preference:
// TrafficExtension supersedes WasmPlugin; EnvoyFilter is the fallback.
var outputKinds = []outputKind{
	{
		kind:      v1alpha1.OutputTrafficExtension,
		gvk:       clientext.SchemeGroupVersion.WithKind("TrafficExtension"),
		crd:       "trafficextensions.extensions.istio.io",
		newObject: func() client.Object { return &clientext.TrafficExtension{} },
		spec:      func(o client.Object) proto.Message { return &o.(*clientext.TrafficExtension).Spec },
		status:    func(o client.Object) proto.Message { return &o.(*clientext.TrafficExtension).Status },
		render: func(r *WasmExtensionReconciler, s *scope) ([]client.Object, error) {
			o, err := render.TrafficExtension(s.ext, r.renderModule(s))
			return []client.Object{o}, err
		},
	},
	{
		kind:      v1alpha1.OutputWasmPlugin,
		gvk:       clientext.SchemeGroupVersion.WithKind("WasmPlugin"),
		crd:       "wasmplugins.extensions.istio.io",
		newObject: func() client.Object { return &clientext.WasmPlugin{} },
		spec:      func(o client.Object) proto.Message { return &o.(*clientext.WasmPlugin).Spec },
		status:    func(o client.Object) proto.Message { return &o.(*clientext.WasmPlugin).Status },
		render: func(r *WasmExtensionReconciler, s *scope) ([]client.Object, error) {
			o, err := render.WasmPlugin(s.ext, r.renderModule(s))
			return []client.Object{o}, err
		},
	},
	{
		kind:      v1alpha1.OutputEnvoyFilter,
		gvk:       clientnet.SchemeGroupVersion.WithKind("EnvoyFilter"),
		crd:       "envoyfilters.networking.istio.io",
		newObject: func() client.Object { return &clientnet.EnvoyFilter{} },
		spec:      func(o client.Object) proto.Message { return &o.(*clientnet.EnvoyFilter).Spec },
		status:    func(o client.Object) proto.Message { return &o.(*clientnet.EnvoyFilter).Status },
		render:    renderEnvoyFilters,
	},
}

func renderEnvoyFilters(r *WasmExtensionReconciler, s *scope) ([]client.Object, error) {
	m := r.renderModule(s)
	efs, err := render.EnvoyFilters(s.ext, m, render.EnvoyFilterOptions{ModuleURL: m.CacheURL, SHA256: m.SHA256,
		RootNamespace: r.RootNamespace, ClusterDomain: r.ClusterDomain})
	objs := make([]client.Object, 0, len(efs))
	for _, ef := range efs {
		objs = append(objs, ef)
	}
	return objs, err
}

// outputFor returns the row of an output kind, or nil for Auto.
func outputFor(k v1alpha1.OutputKind) *outputKind {
	for i := range outputKinds {
		if outputKinds[i].kind == k {
			return &outputKinds[i]
		}
	}
	return nil
}

// outputForKind returns the row whose Kubernetes kind is kind (a
// status.rendered record), or nil.
func outputForKind(kind string) *outputKind {
	for i := range outputKinds {
		if outputKinds[i].gvk.Kind == kind {
			return &outputKinds[i]
		}
	}
	return nil
}

// objectFor returns an empty typed object for a RenderedObject record.
func objectFor(ro v1alpha1.RenderedObject, ns string) client.Object {
	o := outputForKind(ro.Kind).newObject()
	o.SetName(ro.Name)
	o.SetNamespace(ns)
	return o
}

// Served is the set of outputs whose CRDs the cluster serves.
type Served map[v1alpha1.OutputKind]bool

// servedFromCRDs says which outputs the listed CRDs serve. A CRD that is
// being deleted no longer counts.
func servedFromCRDs(crds []metav1.PartialObjectMetadata) Served {
	s := Served{}
	for _, c := range crds {
		for _, o := range outputKinds {
			if c.Name == o.crd && c.DeletionTimestamp.IsZero() {
				s[o.kind] = true
			}
		}
	}
	return s
}

// served reads the output CRDs from the cache the CRD watch fills, so a CRD
// that is removed stops counting at once (a RESTMapper never forgets a kind).
func (r *WasmExtensionReconciler) served(ctx context.Context) (Served, error) {
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinitionList"))
	if err := r.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing CRDs: %w", err)
	}
	return servedFromCRDs(list.Items), nil
}

// chooseOutput picks the output to render and says why. Auto prefers
// TrafficExtension (which supersedes WasmPlugin), then WasmPlugin, then
// EnvoyFilter; an explicit choice must be served.
func chooseOutput(want v1alpha1.OutputKind, served Served) (*outputKind, string, error) {
	if want == "" || want == v1alpha1.OutputAuto {
		for i := range outputKinds {
			if o := &outputKinds[i]; served[o.kind] {
				return o, fmt.Sprintf("output Auto chose %s: the cluster serves %s", o.kind, o.crd), nil
			}
		}
		return nil, "", fmt.Errorf("%w: the cluster serves none of TrafficExtension, WasmPlugin and EnvoyFilter; install Istio's CRDs",
			errOutputUnavailable)
	}
	o := outputFor(want)
	if o == nil {
		return nil, "", fmt.Errorf("%w: unknown output %q", errOutputUnavailable, want)
	}
	if !served[o.kind] {
		return nil, "", fmt.Errorf("%w: output %s needs the CRD %s, which the cluster does not serve; install it or use output Auto",
			errOutputUnavailable, o.kind, o.crd)
	}
	return o, fmt.Sprintf("output %s", o.kind), nil
}
