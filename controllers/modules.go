package controllers

import (
	"context"

	"github.com/opencontainers/go-digest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/cache"
)

// moduleSHAIndex indexes extensions by the sha256 of the module they render.
const moduleSHAIndex = ".status.module.sha256"

func indexModuleSHA(o client.Object) []string {
	if m := o.(*v1alpha1.WasmExtension).Status.Module; m != nil && m.SHA256 != "" {
		return []string{m.SHA256}
	}
	return nil
}

// RefillModule re-obtains the .wasm bytes the module server misses (after a
// restart, an eviction, or on a replica that did not pull it): it re-pulls
// the pinned digest of an extension that renders that sha256, with that
// extension's own policy check and credentials, through the same loader
// (fetch, inspect, sha256 check) every module goes through.
func (r *WasmExtensionReconciler) RefillModule(ctx context.Context, sha256hex string) ([]byte, error) {
	var list v1alpha1.WasmExtensionList
	if err := r.List(ctx, &list, client.MatchingFields{moduleSHAIndex: sha256hex}); err != nil {
		return nil, err
	}
	lastErr := cache.ErrUnknown
	for i := range list.Items {
		ext := &list.Items[i]
		s := &scope{ext: ext}
		if err := r.credentials(ctx, s); err != nil {
			lastErr = err
			continue
		}
		m := ext.Status.Module
		b, err := r.Loader.Bytes(ctx, s.request, m.Repository, digest.Digest(m.Digest), sha256hex)
		if err != nil {
			lastErr = err
			continue
		}
		return b, nil
	}
	return nil, lastErr
}
