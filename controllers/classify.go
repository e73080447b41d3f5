package controllers

import (
	"errors"
	"net/http"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/netguard"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/policy"
	"github.com/wasmext/wasmext/internal/render"
	"github.com/wasmext/wasmext/internal/sandbox"
	"github.com/wasmext/wasmext/internal/tagpick"
	"github.com/wasmext/wasmext/internal/verify"
	"github.com/wasmext/wasmext/internal/wasm"
)

// Errors the controller's own steps return; classify maps them to Reasons.
var (
	errPullSecretNotFound = errors.New("pull secret not found")
	errNameConflict       = errors.New("name conflict")
	errPinnedDigest       = errors.New("resolved digest is not the pinned digest")
	errVerifyConfig       = errors.New("verification configuration")
	errSecretRead         = errors.New("reading a Secret")
	errSecretNamespace    = errors.New("Secrets of this namespace are not readable by the operator")
)

// stalledReasons is the one table of user-fixable errors: each maps to a
// Reason, and the extension is Stalled (no hot retry) until a person acts.
var stalledReasons = []struct {
	target error
	reason string
}{
	{oci.ErrInvalidReference, v1alpha1.ReasonInvalidReference},
	{errPullSecretNotFound, v1alpha1.ReasonPullSecretNotFound},
	{oci.ErrInvalidPullSecret, v1alpha1.ReasonPullSecretInvalid},
	{oci.ErrUnauthorized, v1alpha1.ReasonUnauthorized},
	{oci.ErrNotFound, v1alpha1.ReasonNotFound},
	{oci.ErrUnsupportedFormat, v1alpha1.ReasonUnsupportedFormat},
	{oci.ErrTooLarge, v1alpha1.ReasonModuleTooLarge},
	{errPinnedDigest, v1alpha1.ReasonPinnedDigestMismatch},
	{tagpick.ErrInvalidRange, v1alpha1.ReasonInvalidSemver},
	{tagpick.ErrNoMatch, v1alpha1.ReasonNoMatchingTag},
	{oci.ErrDigestMismatch, v1alpha1.ReasonDigestMismatch},
	{wasm.ErrInvalidWasm, v1alpha1.ReasonInvalidWasm},
	{wasm.ErrNotProxyWasm, v1alpha1.ReasonNotProxyWasm},
	{render.ErrInvalidSpec, v1alpha1.ReasonRenderFailed},
	{errNameConflict, v1alpha1.ReasonNameConflict},
	{errOutputUnavailable, v1alpha1.ReasonOutputUnavailable},
	{errDeliveryUnavailable, v1alpha1.ReasonDeliveryUnavailable},
	{errNotLoadableByProxy, v1alpha1.ReasonFormatNotLoadableByProxy},
	{http.ErrSchemeMismatch, v1alpha1.ReasonRegistryNotTLS},
	{netguard.ErrAddressRefused, v1alpha1.ReasonAddressRefused},
	{policy.ErrViolation, v1alpha1.ReasonPolicyViolation},
	{errSecretNamespace, v1alpha1.ReasonPolicyViolation},
	{verify.ErrSignatureMissing, v1alpha1.ReasonSignatureMissing},
	{verify.ErrSignatureInvalid, v1alpha1.ReasonSignatureInvalid},
	{verify.ErrIdentityMismatch, v1alpha1.ReasonIdentityMismatch},
	{verify.ErrInvalidPolicy, v1alpha1.ReasonVerificationConfigInvalid},
	{errVerifyConfig, v1alpha1.ReasonVerificationConfigInvalid},
	{sandbox.ErrMissingImport, v1alpha1.ReasonMissingImport},
	{sandbox.ErrInvalidABI, v1alpha1.ReasonInvalidABI},
	{sandbox.ErrConfigureFailed, v1alpha1.ReasonConfigureFailed},
	{sandbox.ErrTrapped, v1alpha1.ReasonModuleTrapped},
	{sandbox.ErrMemoryLimit, v1alpha1.ReasonMemoryLimit},
	{sandbox.ErrInvalidModule, v1alpha1.ReasonInvalidWasm},
}

// classify maps an error to a condition Reason and says whether it needs a
// person (Stalled, no hot retry) or is transient (returned, backed off).
// Transient failures are named after the step they hit.
func classify(condition string, err error) (reason string, stalled bool) {
	for _, c := range stalledReasons {
		if errors.Is(err, c.target) {
			return c.reason, true
		}
	}
	switch {
	case condition == v1alpha1.ConditionModuleFetched && errors.Is(err, oci.ErrUnavailable):
		// An outage: what is rendered keeps serving (see setSummary).
		return v1alpha1.ReasonRegistryUnavailable, false
	case errors.Is(err, errSecretRead):
		return v1alpha1.ReasonSecretUnavailable, false
	case errors.Is(err, sandbox.ErrTimeout):
		// An infinite loop, or a node too busy to finish in time: retried
		// with backoff, and the message says which limit was hit.
		return v1alpha1.ReasonTimeout, false
	case condition == v1alpha1.ConditionRendered:
		return v1alpha1.ReasonApplyFailed, isInvalid(err)
	case condition == v1alpha1.ConditionModuleVerified:
		return v1alpha1.ReasonVerificationFailed, false
	}
	return v1alpha1.ReasonFetchFailed, false
}

// conditionForLoadError tells whether a load failed fetching or inspecting.
func conditionForLoadError(err error) string {
	if errors.Is(err, wasm.ErrInvalidWasm) || errors.Is(err, wasm.ErrNotProxyWasm) {
		return v1alpha1.ConditionModuleValidated
	}
	return v1alpha1.ConditionModuleFetched
}
