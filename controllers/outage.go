package controllers

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// Registry outages change nothing (pure functions of setStatus). While the
// registry is unavailable the rendered objects keep the digest in use and
// the module server keeps serving it; ModuleFetched is False with
// RegistryUnavailable, and Ready stays True when it was True for this
// generation: the mesh runs what was asked for, last confirmed at
// status.module.confirmedAt.
//
// confirmedAt is written only with writes that happen anyway, so steady
// state costs no status write per interval: when the digest in use
// changes, when a fetch succeeds again after a failure (recovery), and when
// an outage begins (then from this process's time of the last successful
// resolve, in memory). At steady state it can therefore be older than the
// last resolve; in an outage it is exact (unless the operator restarted
// during it).

// servesThroughOutage: the failure is an outage and Ready was True for
// this generation, with objects rendered and a module in status.
func servesThroughOutage(ext *v1alpha1.WasmExtension, s *scope) bool {
	if s.failure == nil || s.failure.reason != v1alpha1.ReasonRegistryUnavailable ||
		ext.Status.Module == nil || len(ext.Status.Rendered) == 0 || ext.Status.ObservedGeneration != ext.Generation {
		return false
	}
	c := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == ext.Generation
}

// outageMessage is Ready's message during an outage: what is served, since
// when the registry is away (ModuleFetched's transition), and when the
// source last confirmed the digest.
func outageMessage(ext *v1alpha1.WasmExtension) string {
	m := ext.Status.Module
	since, confirmed := "now", "an unknown time"
	if c := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionModuleFetched); c != nil && c.Status == metav1.ConditionFalse {
		since = c.LastTransitionTime.UTC().Format(time.RFC3339)
	}
	if m.ConfirmedAt != nil {
		confirmed = m.ConfirmedAt.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s serves %s@%s; registry unavailable since %s, last confirmed at %s",
		renderedNames(ext.Status.Rendered), m.Repository, m.Digest, since, confirmed)
}

// recordConfirmed: when an outage begins, status.module.confirmedAt takes
// the time of this process's last successful resolve of the digest in use,
// if that is later than what status says.
func recordConfirmed(ext *v1alpha1.WasmExtension, s *scope) {
	m, c := ext.Status.Module, s.confirmed
	if s.failure == nil || s.failure.reason != v1alpha1.ReasonRegistryUnavailable || m == nil || c == nil ||
		c.resolved.Digest.String() != m.Digest || c.resolved.Repository != m.Repository {
		return
	}
	at := metav1.NewTime(c.at.Truncate(time.Second))
	if m.ConfirmedAt == nil || m.ConfirmedAt.Before(&at) {
		m.ConfirmedAt = &at
	}
}

// confirmedAt is status.module.confirmedAt after a successful reconcile:
// kept while the digest stays the same and the module was fetched before
// (no write per interval), else the time of the resolve that confirmed it.
func confirmedAt(prev *v1alpha1.ModuleStatus, s *scope, fetchedBefore bool) *metav1.Time {
	if fetchedBefore && prev != nil && prev.ConfirmedAt != nil && prev.Digest == s.facts.Digest && prev.Repository == s.facts.Repository {
		return prev.ConfirmedAt.DeepCopy()
	}
	if s.confirmed == nil {
		return nil
	}
	at := metav1.NewTime(s.confirmed.at.Truncate(time.Second))
	return &at
}
