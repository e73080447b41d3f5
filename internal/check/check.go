package check

import (
	"context"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/render"
	"github.com/wasmext/wasmext/internal/sandbox"
	"github.com/wasmext/wasmext/internal/wasm"
)

// The steps of a check, in order.
const (
	StepConfig  = "pluginConfig"
	StepFetch   = "fetch"
	StepInspect = "inspect"
	StepDryRun  = "dry run"
)

// Options are what one check runs.
type Options struct {
	Source
	// PluginConfig is spec.pluginConfig as the API server stores it (see
	// ParsePluginConfig); nil: none.
	PluginConfig *apiextensionsv1.JSON
	// Output is spec.output: it decides how the proxy receives
	// PluginConfig (see render.PluginConfiguration); "" is Auto.
	Output v1alpha1.OutputKind
	// PluginName is spec.pluginName (Envoy's root id).
	PluginName string
	// Type is spec.type: "HTTP" (default when "") or "NETWORK".
	Type string
	// Env is the inline values of spec.env (the VM's environment).
	Env map[string]string
	// Sandbox configures the dry run when Runner is nil.
	Sandbox sandbox.Config
	// Runner dry-runs the module; nil: a sandbox.New(Sandbox) closed
	// before Run returns.
	Runner Runner
}

// Runner is the part of *sandbox.Sandbox a check needs.
type Runner interface {
	Run(ctx context.Context, in sandbox.Input) (sandbox.Report, error)
}

// Result is what a check found. Reason is "" when the module passed.
type Result struct {
	Target     string         // the file or image checked
	Module     *Module        // nil when it could not be read
	Facts      wasm.Facts     // what inspection read; zero when it failed
	Report     sandbox.Report // the dry run's report (logs also on failure)
	ConfigSize int            // bytes handed to proxy_on_configure
	PluginName string
	Type       string
	Inspect    time.Duration
	Key        string // sandbox.Key of the dry run's input
	DryRun     bool   // the dry run ran (inspection passed)
	// Step is the step that failed: StepConfig, StepFetch, StepInspect or
	// StepDryRun; "" when the module passed.
	Step string

	// Reason is the Reason the operator would set on ModuleFetched or
	// ModuleValidated; "" when everything passed.
	Reason string
	// Err is the error behind Reason, or an environment error (then
	// Reason is "").
	Err error
}

// Passed says whether the module passed every step.
func (r *Result) Passed() bool { return r.Err == nil }

// Failed says whether the module (not the environment) failed: the
// operator would set a False condition with Reason.
func (r *Result) Failed() bool { return r.Err != nil && r.Reason != "" }

// Run reads the module, inspects it and dry-runs it with the plugin
// configuration, name and type, as the operator does for an extension, and
// stops at the first step that fails. An error the operator would report
// with a Reason sets Result.Reason; any other (a registry that cannot be
// reached, a file that cannot be read) leaves it empty.
func Run(ctx context.Context, o Options) *Result {
	res := &Result{Target: o.Target, PluginName: o.PluginName, Type: pluginType(o.Type)}
	spec := &v1alpha1.WasmExtensionSpec{PluginConfig: o.PluginConfig, Output: o.Output}
	cfg, err := render.PluginConfiguration(spec, o.Output)
	if err != nil {
		return res.fail(StepConfig, err)
	}
	res.ConfigSize = len(cfg)
	if res.Module, err = Load(ctx, o.Source); err != nil {
		return res.fail(StepFetch, err)
	}
	start := time.Now()
	res.Facts, err = wasm.Inspect(ctx, res.Module.Wasm)
	res.Inspect = time.Since(start)
	if err != nil {
		return res.fail(StepInspect, err)
	}
	runner := o.Runner
	if runner == nil {
		sb := sandbox.New(o.Sandbox)
		defer func() { _ = sb.Close(context.WithoutCancel(ctx)) }()
		runner = sb
	}
	in := sandbox.Input{
		Wasm: res.Module.Wasm, SHA256: res.Module.SHA256, PluginName: o.PluginName,
		PluginConfig: cfg, Type: res.Type, Env: o.Env,
	}
	res.Key = sandbox.Key(in)
	res.DryRun = true
	res.Report, err = runner.Run(ctx, in)
	if err != nil {
		return res.fail(StepDryRun, err)
	}
	return res
}

// fail records err and the Reason it maps to.
func (r *Result) fail(step string, err error) *Result {
	r.Step, r.Err = step, err
	r.Reason, _ = Reason(err)
	return r
}

// pluginType is spec.type with its default.
func pluginType(t string) string {
	if t == "" {
		return string(v1alpha1.PluginTypeHTTP)
	}
	return t
}

// ValidateType checks a --type value.
func ValidateType(t string) error {
	switch v1alpha1.PluginType(t) {
	case "", v1alpha1.PluginTypeHTTP, v1alpha1.PluginTypeNetwork:
		return nil
	}
	return fmt.Errorf("--type %q: want HTTP or NETWORK", t)
}
