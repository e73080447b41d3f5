package controllers

import (
	"errors"
	"net/http"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/policy"
	"github.com/wasmext/wasmext/internal/render"
	"github.com/wasmext/wasmext/internal/verify"
	"github.com/wasmext/wasmext/internal/wasm"
)

// scope carries what one reconcile observed, step by step. Conditions are
// computed from it once, at the end (setStatus).
type scope struct {
	ext *v1alpha1.WasmExtension

	request       oci.Request  // image, transport and credentials
	secretVersion string       // resourceVersion of the pull Secret read
	tagged        bool         // image names a tag (re-resolved every interval)
	resolved      oci.Resolved // manifest digest the image resolved to
	facts         *module.Facts
	fetched       bool // facts come from a pull made by this reconcile
	verified      *verification
	rendered      []v1alpha1.RenderedObject
	applied       bool // this reconcile wrote a rendered object

	passed  []passedStep // step conditions that passed, in order
	failure *failure     // the first step that failed, if any
}

// passedStep is a step condition that is True, with its message.
type passedStep struct{ condition, message string }

// pass records that the step reporting on condition passed.
func (s *scope) pass(condition, message string) {
	s.passed = append(s.passed, passedStep{condition, message})
}

// verification is what a signature check established.
type verification struct {
	by string
	at metav1.Time
}

// failure is a failed step: the condition it reports on, a Reason, and
// whether a person must act (Stalled) or a retry may help.
type failure struct {
	condition string
	reason    string
	stalled   bool
	err       error
}

// stepErr tags an error with the condition of the step that returned it.
type stepErr struct {
	condition string
	err       error
}

func (e *stepErr) Error() string { return e.err.Error() }
func (e *stepErr) Unwrap() error { return e.err }

func stepError(condition string, err error) error { return &stepErr{condition: condition, err: err} }

func (s *scope) fail(err error) {
	cond := v1alpha1.ConditionModuleFetched
	var se *stepErr
	if errors.As(err, &se) {
		cond = se.condition
	}
	reason, stalled := classify(cond, err)
	s.failure = &failure{condition: cond, reason: reason, stalled: stalled, err: err}
}

// classify maps an error to a condition Reason and says whether it needs a
// person (Stalled, no hot retry) or is transient (returned, backed off).
func classify(condition string, err error) (reason string, stalled bool) {
	for _, c := range []struct {
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
		{oci.ErrDigestMismatch, v1alpha1.ReasonDigestMismatch},
		{wasm.ErrInvalidWasm, v1alpha1.ReasonInvalidWasm},
		{wasm.ErrNotProxyWasm, v1alpha1.ReasonNotProxyWasm},
		{render.ErrInvalidSpec, v1alpha1.ReasonRenderFailed},
		{errNameConflict, v1alpha1.ReasonNameConflict},
		{errOutputUnavailable, v1alpha1.ReasonOutputUnavailable},
		{http.ErrSchemeMismatch, v1alpha1.ReasonRegistryNotTLS},
		{policy.ErrViolation, v1alpha1.ReasonPolicyViolation},
		{verify.ErrSignatureMissing, v1alpha1.ReasonSignatureMissing},
		{verify.ErrSignatureInvalid, v1alpha1.ReasonSignatureInvalid},
		{verify.ErrIdentityMismatch, v1alpha1.ReasonIdentityMismatch},
		{verify.ErrInvalidPolicy, v1alpha1.ReasonVerificationConfigInvalid},
		{errVerifyConfig, v1alpha1.ReasonVerificationConfigInvalid},
	} {
		if errors.Is(err, c.target) {
			return c.reason, true
		}
	}
	if condition == v1alpha1.ConditionRendered {
		return v1alpha1.ReasonApplyFailed, isInvalid(err)
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

// result is what Reconcile returns: transient failures go back to the
// work queue (rate-limited backoff); a tag is looked at again every
// interval, also while stalled, so a fixed push to the same tag is noticed.
func (s *scope) result() (ctrl.Result, error) {
	if s.failure != nil && !s.failure.stalled {
		return ctrl.Result{}, s.failure.err
	}
	if s.tagged || s.failure != nil {
		return ctrl.Result{RequeueAfter: interval(s.ext)}, nil
	}
	return ctrl.Result{}, nil
}

func interval(ext *v1alpha1.WasmExtension) time.Duration {
	if i := ext.Spec.Module.Interval; i != nil && i.Duration > 0 {
		return i.Duration
	}
	return DefaultInterval
}

// resolutions remembers each extension's last successful resolution, so the
// registry is asked once per interval, not once per reconcile.
type resolutions struct{ m sync.Map }

type resolution struct {
	image, secretVersion string
	insecure             bool
	resolved             oci.Resolved
	at                   time.Time
}

func (rs *resolutions) get(s *scope, maxAge time.Duration) (oci.Resolved, bool) {
	v, ok := rs.m.Load(client.ObjectKeyFromObject(s.ext))
	if !ok {
		return oci.Resolved{}, false
	}
	r := v.(resolution)
	if r.image != s.request.Image || r.insecure != s.request.Insecure || r.secretVersion != s.secretVersion ||
		time.Since(r.at) >= maxAge {
		return oci.Resolved{}, false
	}
	return r.resolved, true
}

func (rs *resolutions) put(s *scope, res oci.Resolved) {
	rs.m.Store(client.ObjectKeyFromObject(s.ext), resolution{image: s.request.Image, secretVersion: s.secretVersion,
		insecure: s.request.Insecure, resolved: res, at: time.Now()})
}

func (rs *resolutions) forget(ext *v1alpha1.WasmExtension) {
	rs.m.Delete(client.ObjectKeyFromObject(ext))
}
