package controllers

import (
	"errors"
	"time"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
)

// scope carries what one reconcile observed, step by step. Steps only
// record observations here; every condition is computed from them once, at
// the end (setStatus), in a deferred call no early return can skip.
type scope struct {
	ext *v1alpha1.WasmExtension
	now time.Time // the reconcile's one clock reading

	suspended bool   // spec.suspend: nothing was looked at or changed
	requested string // reconcile-request annotation value this reconcile handles

	request       oci.Request // image, transport and credentials
	secretVersion string      // resourceVersion of the pull Secret read
	tagged        bool        // image names a tag (re-resolved every interval)
	trustVersion  string      // resourceVersions of the Secrets spec.verify names

	resolved oci.Resolved // manifest digest the image resolved to
	tag      string       // the tag module.semver chose (resolved is its digest)
	verified *verified    // the verification that covers resolved, if any
	revoked  bool         // the rendered digest's signature no longer verifies
	removed  bool         // ... and its rendered objects were removed (policy)

	// confirmed is this process's last successful resolution of the
	// image, also when this reconcile's resolve failed (status.module.confirmedAt).
	confirmed *resolution

	facts   *module.Facts
	fetched bool // facts come from a pull made by this reconcile
	// registryChecked: facts come from a status that says this digest is
	// rendered with delivery Registry, so the proxies could load it.
	registryChecked bool

	out    *outputKind            // the output chosen for this cluster
	dryRun *v1alpha1.DryRunStatus // the dry run that covers facts and spec, if any
	// noSandbox: the operator runs no sandbox, so inspection alone
	// validates a module.
	noSandbox bool

	delivery v1alpha1.Delivery // how the proxies obtain the module
	url      string            // what the rendered objects tell them to load
	rendered []v1alpha1.RenderedObject
	why      string   // why this output was chosen
	lossy    []string // pluginConfig paths whose numbers Istio will change
	mixed    []string // extensions rendered into another family that may share workloads
	applied  bool     // this reconcile wrote a rendered object

	failure *failure // the first step that failed, if any
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

// fail records the failure of a step.
func (s *scope) fail(err error) {
	cond := v1alpha1.ConditionModuleFetched
	var se *stepErr
	if errors.As(err, &se) {
		cond = se.condition
	}
	reason, stalled := classify(cond, err)
	s.failure = &failure{condition: cond, reason: reason, stalled: stalled, err: err}
}

// failedAt says whether the step reporting on condition failed.
func (s *scope) failedAt(condition string) bool {
	return s.failure != nil && s.failure.condition == condition
}
