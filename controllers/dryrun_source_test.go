package controllers

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/sandbox"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// downFetcher is a registry that cannot be reached.
type downFetcher struct{}

func (downFetcher) Fetch(context.Context, oci.Request, digest.Digest) (*oci.Module, error) {
	return nil, errors.New("registry down")
}

// TestDryRunModuleBytesOnlyToCompile: the dry run reads the module's bytes
// through the sandbox's Source, only to compile it; when they cannot be
// read the step fails as ModuleFetched (not ModuleValidated) and nothing is
// remembered, so the next reconcile, with the bytes back, passes.
func TestDryRunModuleBytesOnlyToCompile(t *testing.T) {
	sb := sandbox.New(sandbox.Config{Timeout: 3 * time.Second})
	defer func() { _ = sb.Close(context.Background()) }()
	w := wasmtest.ProxyWasm
	sha := fmt.Sprintf("%x", sha256.Sum256(w))
	stored, reads := false, 0
	r := &WasmExtensionReconciler{Sandbox: sb, Loader: module.NewLoader(downFetcher{}, 1),
		ModuleBytes: func(string) ([]byte, bool) {
			reads++
			return w, stored
		}}
	newScope := func() *scope {
		ext := &v1alpha1.WasmExtension{Spec: v1alpha1.WasmExtensionSpec{Module: v1alpha1.ModuleSource{Image: "example.test/m:1"}}}
		return &scope{ext: ext, out: outputFor(v1alpha1.OutputWasmPlugin),
			facts:    &module.Facts{Repository: "example.test/m", SHA256: sha, Size: int64(len(w))},
			resolved: oci.Resolved{Repository: "example.test/m", Digest: digest.FromBytes([]byte("manifest"))}}
	}
	err := r.dryRun(context.Background(), newScope())
	var se *stepErr
	if !errors.As(err, &se) || se.condition != v1alpha1.ConditionModuleFetched {
		t.Fatalf("bytes unavailable: %v, want a ModuleFetched step error", err)
	}
	stored = true
	s := newScope()
	if err := r.dryRun(context.Background(), s); err != nil {
		t.Fatalf("bytes back: %v", err)
	}
	if s.dryRun == nil || s.dryRun.Input == "" {
		t.Errorf("dry-run status %+v, want the input recorded", s.dryRun)
	}
	if reads != 2 {
		t.Errorf("module bytes read %d times, want 2 (one per compilation)", reads)
	}
}
