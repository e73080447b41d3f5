// Package reasons maps the sentinel errors of the module stages (fetch in
// internal/oci and internal/netguard, inspection in internal/wasm, the dry
// run in internal/sandbox) to the condition Reasons of api/v1alpha1. It is
// the one table both the operator (controllers/classify.go) and
// `manager check` read, so the two never disagree. It owns that mapping
// only; errors of the controller's own steps, the cluster policy and
// verification are classified by the controllers.
package reasons

import (
	"errors"
	"net/http"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/netguard"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/sandbox"
	"github.com/wasmext/wasmext/internal/wasm"
)

// stalled are the module errors a person must fix: the first match wins.
var stalled = []struct {
	target error
	reason string
}{
	{oci.ErrInvalidReference, v1alpha1.ReasonInvalidReference},
	{oci.ErrInvalidPullSecret, v1alpha1.ReasonPullSecretInvalid},
	{oci.ErrUnauthorized, v1alpha1.ReasonUnauthorized},
	{oci.ErrNotFound, v1alpha1.ReasonNotFound},
	{oci.ErrUnsupportedFormat, v1alpha1.ReasonUnsupportedFormat},
	{oci.ErrTooLarge, v1alpha1.ReasonModuleTooLarge},
	{oci.ErrDigestMismatch, v1alpha1.ReasonDigestMismatch},
	{wasm.ErrInvalidWasm, v1alpha1.ReasonInvalidWasm},
	{wasm.ErrNotProxyWasm, v1alpha1.ReasonNotProxyWasm},
	{http.ErrSchemeMismatch, v1alpha1.ReasonRegistryNotTLS},
	{netguard.ErrAddressRefused, v1alpha1.ReasonAddressRefused},
	{sandbox.ErrMissingImport, v1alpha1.ReasonMissingImport},
	{sandbox.ErrInvalidABI, v1alpha1.ReasonInvalidABI},
	{sandbox.ErrConfigureFailed, v1alpha1.ReasonConfigureFailed},
	{sandbox.ErrTrapped, v1alpha1.ReasonModuleTrapped},
	{sandbox.ErrMemoryLimit, v1alpha1.ReasonMemoryLimit},
	{sandbox.ErrInvalidModule, v1alpha1.ReasonInvalidWasm},
}

// Stalled returns the Reason of a module error a person must fix, and
// false for any other error.
func Stalled(err error) (string, bool) {
	for _, r := range stalled {
		if errors.Is(err, r.target) {
			return r.reason, true
		}
	}
	return "", false
}

// Of returns the Reason for a module error: those of Stalled, and Timeout
// for a dry run that ran out of time (which the operator retries, since a
// busy node looks like a loop). It returns false for the rest: transient
// failures such as an unreachable registry.
func Of(err error) (string, bool) {
	if r, ok := Stalled(err); ok {
		return r, true
	}
	if errors.Is(err, sandbox.ErrTimeout) {
		return v1alpha1.ReasonTimeout, true
	}
	return "", false
}
