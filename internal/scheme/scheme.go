// Package scheme builds the runtime.Scheme of every type wasmext reads and
// writes, so that the operator (main.go), its envtest suite, the demo and the
// benchmark decode the same objects the same way.
//
// It owns the list of API groups only. It must not create clients, talk to
// the API server or register anything globally.
package scheme

import (
	"fmt"

	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// New returns a new Scheme holding Kubernetes' built-in types (Secrets,
// Events, ...), CustomResourceDefinitions (apiextensions.k8s.io/v1),
// wasmext's WasmExtension (wasmext.io/v1alpha1), Istio's WasmPlugin and
// TrafficExtension (extensions.istio.io/v1alpha1) and Istio's EnvoyFilter
// (networking.istio.io/v1alpha3). Every call returns a Scheme of its own.
func New() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, g := range []struct {
		name string
		add  func(*runtime.Scheme) error
	}{
		{"Kubernetes built-in types", clientgoscheme.AddToScheme},
		{"apiextensions.k8s.io/v1", apiextensionsv1.AddToScheme},
		{v1alpha1.GroupVersion.String(), v1alpha1.AddToScheme},
		{"extensions.istio.io/v1alpha1", clientext.AddToScheme},
		{"networking.istio.io/v1alpha3", clientnet.AddToScheme},
	} {
		if err := g.add(s); err != nil {
			return nil, fmt.Errorf("adding %s to the scheme: %w", g.name, err)
		}
	}
	return s, nil
}
