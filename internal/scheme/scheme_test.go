package scheme_test

import (
	"testing"

	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/scheme"
)

// TestNewKnowsEveryKind checks that every kind the operator, the demo and
// the benchmark read or write resolves to its group, version and kind.
func TestNewKnowsEveryKind(t *testing.T) {
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		obj  runtime.Object
		want schema.GroupVersionKind
	}{
		{&v1alpha1.WasmExtension{}, v1alpha1.GroupVersion.WithKind("WasmExtension")},
		{&v1alpha1.WasmExtensionList{}, v1alpha1.GroupVersion.WithKind("WasmExtensionList")},
		{&clientext.WasmPlugin{}, schema.GroupVersionKind{Group: "extensions.istio.io", Version: "v1alpha1", Kind: "WasmPlugin"}},
		{&clientext.TrafficExtension{}, schema.GroupVersionKind{Group: "extensions.istio.io", Version: "v1alpha1", Kind: "TrafficExtension"}},
		{&clientnet.EnvoyFilter{}, schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1alpha3", Kind: "EnvoyFilter"}},
		{&apiextensionsv1.CustomResourceDefinition{}, schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}},
		{&corev1.Secret{}, schema.GroupVersionKind{Version: "v1", Kind: "Secret"}},
		{&corev1.Namespace{}, schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}},
		{&eventsv1.Event{}, schema.GroupVersionKind{Group: "events.k8s.io", Version: "v1", Kind: "Event"}},
	} {
		gvks, _, err := s.ObjectKinds(tc.obj)
		if err != nil {
			t.Errorf("%T: %v", tc.obj, err)
			continue
		}
		if len(gvks) != 1 || gvks[0] != tc.want {
			t.Errorf("%T is %v, want %v", tc.obj, gvks, tc.want)
		}
	}
}

// TestNewReturnsFreshSchemes: a caller adding types to its Scheme must not
// change another caller's.
func TestNewReturnsFreshSchemes(t *testing.T) {
	a, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	b, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("New returned the same Scheme twice")
	}
	extra := schema.GroupVersion{Group: "example.test", Version: "v1"}
	a.AddKnownTypeWithName(extra.WithKind("Thing"), &corev1.ConfigMap{})
	if b.Recognizes(extra.WithKind("Thing")) {
		t.Fatal("a type added to one Scheme showed up in another")
	}
}
