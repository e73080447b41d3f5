package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/metrics"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/render"
	"github.com/wasmext/wasmext/internal/sandbox"
)

// dryRun proves the module runs with this extension's configuration before
// anything is rendered (see v1alpha1.Validation). It runs once per module,
// configuration, pluginName and type: status.module.dryRun.input answers a
// repeat at steady state without the sandbox, and the sandbox remembers
// results shared by many extensions. A failure stops the pipeline before
// render, so what is rendered keeps serving the last version that passed.
func (r *WasmExtensionReconciler) dryRun(ctx context.Context, s *scope) error {
	if v := s.ext.Spec.Validation; v != nil && v.DryRun == v1alpha1.DryRunDisabled {
		s.dryRun = &v1alpha1.DryRunStatus{Skipped: v.SkipReason}
		return nil
	}
	if r.Sandbox == nil {
		return nil
	}
	in, err := dryRunInput(&s.ext.Spec, s.out.kind, s.facts)
	if err != nil {
		return stepError(v1alpha1.ConditionRendered, err)
	}
	key := sandbox.Key(in)
	if prev := s.ext.Status.Module; prev != nil && prev.SHA256 == s.facts.SHA256 && prev.DryRun != nil && prev.DryRun.Input == key {
		s.dryRun = prev.DryRun.DeepCopy()
		return nil
	}
	// The bytes are read only if the module must be compiled, once the
	// compile budget admits it: extensions waiting their turn hold none.
	in.Size = s.facts.Size
	in.Source = func(ctx context.Context) ([]byte, error) { return r.moduleBytes(ctx, s) }
	start := time.Now()
	rep, err := r.Sandbox.Run(ctx, in)
	var srcErr *sandbox.SourceError
	if errors.As(err, &srcErr) {
		return stepError(v1alpha1.ConditionModuleFetched, srcErr.Err)
	}
	if err != nil || !rep.Cached {
		metrics.ObserveDryRun(time.Since(start), err)
	}
	if err != nil {
		return stepError(v1alpha1.ConditionModuleValidated, err)
	}
	took := (rep.Compile + rep.Run).Round(10 * time.Microsecond) // a small module takes well under 1ms
	s.dryRun = &v1alpha1.DryRunStatus{Input: key, EntryPoint: rep.EntryPoint, Duration: &metav1.Duration{Duration: took}}
	return nil
}

// dryRunInput is what the proxy will give the module for spec rendered as
// kind: the configuration bytes, root id and VM environment.
func dryRunInput(spec *v1alpha1.WasmExtensionSpec, kind v1alpha1.OutputKind, f *module.Facts) (sandbox.Input, error) {
	cfg, err := render.PluginConfiguration(spec, kind)
	if err != nil {
		return sandbox.Input{}, err
	}
	in := sandbox.Input{SHA256: f.SHA256, PluginName: spec.PluginName, PluginConfig: cfg, Type: string(spec.Type)}
	for _, e := range spec.Env {
		// Host values are the proxy's own environment, unknown here.
		if e.ValueFrom != v1alpha1.EnvHost {
			if in.Env == nil {
				in.Env = map[string]string{}
			}
			in.Env[e.Name] = e.Value
		}
	}
	return in, nil
}

// moduleBytes returns the .wasm of the loaded module: from the module
// server's store, which the loader filled, or pulled again by digest.
func (r *WasmExtensionReconciler) moduleBytes(ctx context.Context, s *scope) ([]byte, error) {
	if r.ModuleBytes != nil {
		if b, ok := r.ModuleBytes(s.facts.SHA256); ok {
			return b, nil
		}
	}
	if s.ext.Spec.Module.HTTP != nil {
		return r.refetchHTTP(ctx, s.ext, s.facts.SHA256)
	}
	return r.Loader.Bytes(ctx, s.request, s.facts.Repository, s.resolved.Digest, s.facts.SHA256)
}

// dryRunMessage is the ModuleValidated message once the module passed (or
// skipped) the dry run; it depends only on status fields, so a steady
// state writes nothing.
func dryRunMessage(f *module.Facts, d *v1alpha1.DryRunStatus) string {
	if d.Skipped != "" {
		return fmt.Sprintf("Valid Proxy-Wasm module (%s); dry run disabled by spec.validation: %s", f.ABI, d.Skipped)
	}
	took := ""
	if d.Duration != nil {
		took = ", " + d.Duration.Duration.String()
	}
	return fmt.Sprintf("Valid Proxy-Wasm module (%s); dry run passed (entry point %s%s)", f.ABI, d.EntryPoint, took)
}
