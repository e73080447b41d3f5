package main

import (
	"strings"
	"time"

	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/testenv/proc"
)

// window is what happened between two observations.
type window struct {
	apiByMethod map[string]float64 // operator's client-go, HTTP method → requests
	apiServer   map[string]float64 // kube-apiserver, "verb resource[/sub]" → requests (writes only)
	reconciles  map[string]float64 // result → count
	retries     float64
	registry    ocitest.Counts
	sig         sigCounts // through the proxy, by what was asked for
	secretGETs  float64   // kube-apiserver GETs of Secrets (the operator's uncached key reads)
	cpu         time.Duration
	// queuedStart and queuedEnd are the operator's Normal Events waiting in
	// its queue (wasmext_events_pending) at either end: written later, at
	// --event-qps.
	queuedStart, queuedEnd float64
}

func (w window) apiTotal() float64 { return sumAll(w.apiByMethod) }

func (w window) apiWrites() float64 {
	return w.apiByMethod["POST"] + w.apiByMethod["PUT"] + w.apiByMethod["PATCH"] + w.apiByMethod["DELETE"]
}

// queuedWithin are the Events queued in the window and not yet written at
// its end: each becomes one write later.
func (w window) queuedWithin() float64 { return max(0, w.queuedEnd-w.queuedStart) }

// drained are the Event writes in the window of Events queued before it
// (the rollout's, sent at --event-qps during the steady window).
func (w window) drained() float64 {
	return min(w.eventWrites(), max(0, w.queuedStart-w.queuedEnd))
}

// allWrites are the window's writes plus the Events it queued and has not
// written yet, less those it drained from before: what the window costs the
// API server, once every Event is out.
func (w window) allWrites() float64 { return w.apiWrites() + w.queuedWithin() - w.drained() }

// allEvents are the Event writes the window costs, sent or still queued.
func (w window) allEvents() float64 { return w.eventWrites() + w.queuedWithin() - w.drained() }

func (w window) apiReads() float64 { return w.apiTotal() - w.apiWrites() }

// eventWrites are the writes of Events (the operator queues Normal Events
// and sends them apart, at --event-qps, so they trail the rollout).
func (w window) eventWrites() float64 {
	return w.apiServer["events POST"] + w.apiServer["events PATCH"]
}

// pathWrites are the writes other than Events: those an extension waits
// for on its path to Ready.
func (w window) pathWrites() float64 { return w.apiWrites() - w.eventWrites() }

// snapshot is the state of every counter at one instant.
type snapshot struct {
	op       metrics
	apiSrv   metrics
	registry ocitest.Counts
	sig      sigCounts
	usage    proc.Usage
}

// eventsPending is the operator's gauge of queued Normal Events.
const eventsPending = "wasmext_events_pending"

// writeVerbs are the API server verbs that change state.
var writeVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "APPLY": true, "DELETE": true, "DELETECOLLECTION": true}

// notOperator are resources the operator does not write: the bench creates
// namespaces (and WasmExtensions, left out below), the API server renews
// its own leases.
var notOperator = map[string]bool{"namespaces": true, "leases": true}

func diff(a, b snapshot) window {
	w := window{
		apiByMethod: delta(b.op.by("rest_client_requests_total", nil, "method"), a.op.by("rest_client_requests_total", nil, "method")),
		reconciles: delta(b.op.by("controller_runtime_reconcile_total", map[string]string{"controller": "wasmextension"}, "result"),
			a.op.by("controller_runtime_reconcile_total", map[string]string{"controller": "wasmextension"}, "result")),
		retries: b.op.sum("workqueue_retries_total", map[string]string{"name": "wasmextension"}) -
			a.op.sum("workqueue_retries_total", map[string]string{"name": "wasmextension"}),
		registry: subCounts(b.registry, a.registry),
		sig:      b.sig.sub(a.sig),
		secretGETs: b.apiSrv.sum("apiserver_request_total", map[string]string{"verb": "GET", "resource": "secrets"}) -
			a.apiSrv.sum("apiserver_request_total", map[string]string{"verb": "GET", "resource": "secrets"}),
		cpu:         b.usage.CPU - a.usage.CPU,
		queuedStart: a.op.sum(eventsPending, nil),
		queuedEnd:   b.op.sum(eventsPending, nil),
	}
	srv := delta(b.apiSrv.by("apiserver_request_total", nil, "verb", "resource", "subresource"),
		a.apiSrv.by("apiserver_request_total", nil, "verb", "resource", "subresource"))
	w.apiServer = map[string]float64{}
	for k, v := range srv {
		f := strings.Fields(k)
		if len(f) < 2 || !writeVerbs[f[0]] || notOperator[f[1]] {
			continue
		}
		if f[0] == "POST" && f[1] == "wasmextensions" && len(f) == 2 { // the bench's creates
			continue
		}
		res := f[1]
		if len(f) > 2 {
			res += "/" + f[2]
		}
		w.apiServer[res+" "+f[0]] += v
	}
	return w
}

func subCounts(a, b ocitest.Counts) ocitest.Counts {
	return ocitest.Counts{ManifestGET: a.ManifestGET - b.ManifestGET, ManifestHEAD: a.ManifestHEAD - b.ManifestHEAD,
		BlobGET: a.BlobGET - b.BlobGET, BlobHEAD: a.BlobHEAD - b.BlobHEAD, Other: a.Other - b.Other, Total: a.Total - b.Total}
}
