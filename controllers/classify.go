package controllers

import (
	"errors"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/policy"
	"github.com/wasmext/wasmext/internal/reasons"
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

// stalledReasons is the table of user-fixable errors of the controller's
// own steps, the policy, verification, rendering and tag selection: each
// maps to a Reason, and the extension is Stalled (no hot retry) until a
// person acts. The module stages' errors are in internal/reasons, shared
// with `manager check`; classify reads this table first.
var stalledReasons = []struct {
	target error
	reason string
}{
	{errPullSecretNotFound, v1alpha1.ReasonPullSecretNotFound},
	{errPinnedDigest, v1alpha1.ReasonPinnedDigestMismatch},
	{tagpick.ErrInvalidRange, v1alpha1.ReasonInvalidSemver},
	{tagpick.ErrNoMatch, v1alpha1.ReasonNoMatchingTag},
	{render.ErrInvalidSpec, v1alpha1.ReasonRenderFailed},
	{errNameConflict, v1alpha1.ReasonNameConflict},
	{errOutputUnavailable, v1alpha1.ReasonOutputUnavailable},
	{errDeliveryUnavailable, v1alpha1.ReasonDeliveryUnavailable},
	{errNotLoadableByProxy, v1alpha1.ReasonFormatNotLoadableByProxy},
	{policy.ErrViolation, v1alpha1.ReasonPolicyViolation},
	{errSecretNamespace, v1alpha1.ReasonPolicyViolation},
	{verify.ErrSignatureMissing, v1alpha1.ReasonSignatureMissing},
	{verify.ErrSignatureInvalid, v1alpha1.ReasonSignatureInvalid},
	{verify.ErrIdentityMismatch, v1alpha1.ReasonIdentityMismatch},
	{verify.ErrInvalidPolicy, v1alpha1.ReasonVerificationConfigInvalid},
	{errVerifyConfig, v1alpha1.ReasonVerificationConfigInvalid},
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
	if r, ok := reasons.Stalled(err); ok {
		return r, true
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
