package controllers

import (
	"context"
	"fmt"

	toolscache "k8s.io/client-go/tools/cache"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/cache"
)

// ServeRenderedModules makes srv serve a module only while some extension
// renders it (its status.module.sha256), and for srv.Grace after the last
// one stops: it sets srv.InUse to a lookup in c through moduleSHAIndex and
// adds an informer handler that calls srv.Seen with the sha256 an
// extension stops rendering (its status moves to another module, or it is
// deleted).
//
// Every replica calls it, leader or not: the informer cache runs on all of
// them. Call it after SetupWithManager (which registers the index) and
// before the manager starts.
func ServeRenderedModules(ctx context.Context, c ctrlcache.Cache, srv *cache.Server) error {
	srv.InUse = modulesInUse(c)
	inf, err := c.GetInformer(ctx, &v1alpha1.WasmExtension{})
	if err != nil {
		return fmt.Errorf("watching WasmExtensions for the module server: %w", err)
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			if sha := stoppedRendering(asExtension(oldObj), asExtension(newObj)); sha != "" {
				srv.Seen(sha)
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if sha := stoppedRendering(asExtension(obj), nil); sha != "" {
				srv.Seen(sha)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("watching WasmExtensions for the module server: %w", err)
	}
	return nil
}

// modulesInUse answers from the informer cache whether some extension
// renders a module.
func modulesInUse(r client.Reader) cache.InUse {
	return func(ctx context.Context, sha256hex string) (bool, error) {
		var list v1alpha1.WasmExtensionList
		if err := r.List(ctx, &list, client.MatchingFields{moduleSHAIndex: sha256hex}, client.Limit(1)); err != nil {
			return false, fmt.Errorf("listing WasmExtensions that render module %s: %w", sha256hex, err)
		}
		return len(list.Items) > 0, nil
	}
}

// stoppedRendering returns the sha256 of the module that oldExt rendered
// and newExt (nil once deleted) no longer does, or "".
func stoppedRendering(oldExt, newExt *v1alpha1.WasmExtension) string {
	was := renderedSHA(oldExt)
	if was == "" || was == renderedSHA(newExt) {
		return ""
	}
	return was
}

// renderedSHA is what moduleSHAIndex indexes ext under, or "".
func renderedSHA(ext *v1alpha1.WasmExtension) string {
	if ext == nil {
		return ""
	}
	if shas := indexModuleSHA(ext); len(shas) == 1 {
		return shas[0]
	}
	return ""
}

// asExtension returns obj as an extension, or nil.
func asExtension(obj any) *v1alpha1.WasmExtension {
	ext, _ := obj.(*v1alpha1.WasmExtension)
	return ext
}
