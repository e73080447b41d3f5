package controllers

import (
	"errors"
	"fmt"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/render"
)

var (
	errDeliveryUnavailable = errors.New("delivery unavailable")
	errNotLoadableByProxy  = errors.New("format not loadable by the proxies")
)

// chooseDelivery decides how the proxies obtain the module: output
// EnvoyFilter always from the module server; otherwise spec.delivery, Cache
// by default when the operator runs a module server, Registry when it does
// not. Registry is refused for formats istio-agent cannot load, since it
// would put a deny-all (FailClose) or allow-all filter in the plugin's
// place and the extension would look Ready.
//
// A module already rendered with Registry (status; its layout is not kept
// there) was checked then: checked says so.
func chooseDelivery(spec *v1alpha1.WasmExtensionSpec, out v1alpha1.OutputKind, f *module.Facts, moduleServer, checked bool) (v1alpha1.Delivery, error) {
	want := spec.Delivery
	switch {
	case out == v1alpha1.OutputEnvoyFilter:
		want = v1alpha1.DeliveryCache
	case want == "" && moduleServer:
		want = v1alpha1.DeliveryCache
	case want == "":
		want = v1alpha1.DeliveryRegistry
	}
	if want == v1alpha1.DeliveryCache && !moduleServer {
		return "", fmt.Errorf("%w: delivery Cache (output %s) needs the operator's module server, which is not configured (--module-server-url); set delivery Registry or ask the platform team to enable it",
			errDeliveryUnavailable, out)
	}
	if want == v1alpha1.DeliveryRegistry && !checked {
		a := render.RegistryArtifact{Format: f.Format, LayerMediaTypes: f.Layout.LayerMediaTypes,
			LayerGzip: f.Layout.LayerGzip, ShadowingEntry: f.Layout.ShadowingEntry, IndexPlatform: f.Layout.IndexPlatform}
		if ok, why := render.ProxyLoadable(a); !ok {
			return "", fmt.Errorf("%w: %s", errNotLoadableByProxy, why)
		}
	}
	return want, nil
}

// renderModule is what the renderers are told about the module: for Cache
// the module server's URL and the sha256 proxies check; for Registry the
// digest-pinned OCI reference only.
func (r *WasmExtensionReconciler) renderModule(s *scope) render.Module {
	m := render.Module{Repository: s.facts.Repository, Digest: s.facts.Digest, SHA256: s.facts.SHA256}
	if s.delivery == v1alpha1.DeliveryCache {
		m.CacheURL = r.ModuleURL(s.facts.SHA256)
	}
	return m
}

// moduleURL is what the rendered objects tell the proxies to load.
func (r *WasmExtensionReconciler) moduleURL(s *scope) string {
	m := r.renderModule(s)
	if m.CacheURL != "" {
		return m.CacheURL
	}
	return m.URL()
}

// wantsRegistry says whether the proxies may pull the module themselves,
// so the load step must know the artifact's layout (status does not keep
// it): asked for, or the default without a module server.
func wantsRegistry(spec *v1alpha1.WasmExtensionSpec, moduleServer bool) bool {
	return spec.Delivery == v1alpha1.DeliveryRegistry || (spec.Delivery == "" && !moduleServer)
}
