package controllers

import "github.com/wasmext/wasmext/api/v1alpha1"

// outcome is the Reason a reconcile is counted under in
// wasmext_reconciles_total (internal/metrics): Suspended, the failed
// step's Reason, or Succeeded.
func outcome(s *scope) string {
	switch {
	case s.suspended:
		return v1alpha1.ReasonSuspended
	case s.failure != nil:
		return s.failure.reason
	}
	return v1alpha1.ReasonSucceeded
}
