package controllers

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/cache"
	"github.com/wasmext/wasmext/internal/verify"
)

// moduleSHAIndex indexes extensions by the sha256 of the module they render.
const moduleSHAIndex = ".status.module.sha256"

// indexModuleSHA: an extension whose rendered objects were removed (a
// signature that stopped verifying, under --remove-unverified) keeps its
// status.module but renders nothing: not indexed, so the module server
// neither serves nor refills its module for it.
func indexModuleSHA(o client.Object) []string {
	ext := o.(*v1alpha1.WasmExtension)
	if m := ext.Status.Module; m != nil && m.SHA256 != "" && len(ext.Status.Rendered) > 0 {
		return []string{m.SHA256}
	}
	return nil
}

// RefillModule re-obtains the .wasm bytes the module server misses (after a
// restart, an eviction, or on a replica that did not pull it): it re-pulls
// the pinned digest of an extension that renders that sha256, with that
// extension's own policy check and credentials, checks the signature again
// where the extension asks for one, and goes through the same loader
// (fetch, inspect, sha256 check) every module goes through.
func (r *WasmExtensionReconciler) RefillModule(ctx context.Context, sha256hex string) ([]byte, error) {
	var list v1alpha1.WasmExtensionList
	if err := r.List(ctx, &list, client.MatchingFields{moduleSHAIndex: sha256hex}); err != nil {
		return nil, err
	}
	lastErr := cache.ErrUnknown
	for i := range list.Items {
		b, err := r.refillFrom(ctx, &list.Items[i], sha256hex)
		if err == nil {
			return b, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// refillFrom re-pulls the module sha256hex that ext renders.
func (r *WasmExtensionReconciler) refillFrom(ctx context.Context, ext *v1alpha1.WasmExtension, sha256hex string) ([]byte, error) {
	if ext.Spec.Module.HTTP != nil {
		return r.refetchHTTP(ctx, ext, sha256hex)
	}
	s := &scope{ext: ext}
	if err := r.credentials(ctx, s); err != nil {
		return nil, err
	}
	m := ext.Status.Module
	d := digest.Digest(m.Digest)
	if ext.Spec.Verify != nil {
		v, err := r.verifierFor(ctx, ext)
		if err != nil {
			return nil, err
		}
		if _, err := v.Verify(ctx, verify.Target{Request: s.request, Digest: d}); err != nil {
			return nil, fmt.Errorf("verifying %s again before serving it: %w", d, err)
		}
	}
	return r.Loader.Bytes(ctx, s.request, m.Repository, d, sha256hex)
}
