package check

import (
	"errors"
	"net/http"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/sandbox"
	"github.com/wasmext/wasmext/internal/wasm"
)

// moduleReasons maps the sentinel errors of fetching, inspecting and
// dry-running a module to the condition Reason the operator sets for them;
// the first match wins. The oci and wasm rows are those of the
// controller's table (controllers/classify.go).
var moduleReasons = []struct {
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
	{sandbox.ErrMissingImport, v1alpha1.ReasonMissingImport},
	{sandbox.ErrInvalidABI, v1alpha1.ReasonInvalidABI},
	{sandbox.ErrConfigureFailed, v1alpha1.ReasonConfigureFailed},
	{sandbox.ErrTrapped, v1alpha1.ReasonModuleTrapped},
	{sandbox.ErrTimeout, v1alpha1.ReasonTimeout},
	{sandbox.ErrMemoryLimit, v1alpha1.ReasonMemoryLimit},
	{sandbox.ErrInvalidModule, v1alpha1.ReasonInvalidWasm},
}

// Reason returns the condition Reason the operator sets for an error of
// fetching (package oci), inspecting (package wasm) or dry-running
// (package sandbox) a module, and false when err wraps none of their
// sentinels: a transient failure (the operator's FetchFailed, retried).
func Reason(err error) (reason string, ok bool) {
	for _, r := range moduleReasons {
		if errors.Is(err, r.target) {
			return r.reason, true
		}
	}
	return "", false
}
