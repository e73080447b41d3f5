package controllers

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/cache"
	"github.com/wasmext/wasmext/internal/wasm"
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
// extension's own policy check and credentials, and checks the bytes again.
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
		m, err := r.Fetcher.Fetch(ctx, s.request, digestOf(ext.Status.Module.Digest))
		if err != nil {
			lastErr = err
			continue
		}
		if m.SHA256 != sha256hex {
			lastErr = fmt.Errorf("%s@%s now holds sha256 %s, not %s", m.Repository, m.Digest, m.SHA256, sha256hex)
			continue
		}
		if _, err := wasm.Inspect(ctx, m.Wasm); err != nil {
			lastErr = err
			continue
		}
		return m.Wasm, nil
	}
	return nil, lastErr
}

func digestOf(s string) digest.Digest { return digest.Digest(s) }
