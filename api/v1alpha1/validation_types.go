package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// DryRunMode says whether the operator dry-runs a module.
// +kubebuilder:validation:Enum=Enabled;Disabled
type DryRunMode string

const (
	// DryRunEnabled runs the module in the operator's Proxy-Wasm sandbox
	// before anything is rendered (the default).
	DryRunEnabled DryRunMode = "Enabled"
	// DryRunDisabled skips the dry run; the module is only inspected.
	DryRunDisabled DryRunMode = "Disabled"
)

// Validation says how a module is proven to run before any proxy loads it.
//
// With dryRun Enabled, the operator instantiates the module in a Proxy-Wasm
// host (wazero) that emulates what Envoy provides, runs its entry point
// (_initialize, _start or a start section), creates the root context, and
// calls proxy_on_vm_start and proxy_on_configure with the exact bytes the
// proxy will hand it for this extension's pluginConfig, then one HTTP
// request (or one NETWORK connection). It does so under a time and memory
// limit, once per module digest, pluginConfig, pluginName and type. A module
// that imports a function Envoy does not provide, exports a callback with
// the wrong signature, returns false from proxy_on_configure, traps, loops
// or exhausts memory is refused (ModuleValidated False with Reason
// MissingImport, InvalidABI, ConfigureFailed, ModuleTrapped, Timeout or
// MemoryLimit) and nothing rendered changes.
//
// +kubebuilder:validation:XValidation:rule="!has(self.dryRun) || self.dryRun != 'Disabled' || (has(self.skipReason) && size(self.skipReason) > 0)",message="dryRun Disabled needs a skipReason saying which host feature the sandbox cannot emulate"
type Validation struct {
	// dryRun is Enabled (default) or Disabled. Disable it only for a
	// module that needs host features the sandbox cannot emulate (for
	// example a call whose answer its proxy_on_configure depends on); the
	// skipReason is shown in status and in a Warning Event.
	// +optional
	// +kubebuilder:default=Enabled
	DryRun DryRunMode `json:"dryRun,omitempty"`
	// skipReason says why the dry run is disabled; required with dryRun
	// Disabled.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	SkipReason string `json:"skipReason,omitempty"`
}

// DryRunStatus records a dry run that passed (or that was skipped).
type DryRunStatus struct {
	// input identifies what was dry-run: a hash of the module's sha256,
	// the configuration bytes, pluginName, type and VM environment. A
	// change of any of them runs the dry run again.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Input string `json:"input,omitempty"`
	// entryPoint is how the module started: _initialize, _start, start
	// section or none.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	EntryPoint string `json:"entryPoint,omitempty"`
	// duration is how long the dry run took (compilation included).
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
	// skipped is the skipReason when spec.validation disabled the dry run.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Skipped string `json:"skipped,omitempty"`
}
