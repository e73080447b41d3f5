// Package metrics owns the operator's Prometheus metrics for registry
// traffic and the reconcile pipeline, in controller-runtime's registry
// (served at the operator's /metrics, next to the module server's, see
// internal/cache/metrics.go). Names follow Prometheus conventions:
// counters end in _total, durations are in seconds and end in _seconds.
//
//	wasmext_registry_requests_total{operation,result}     registry requests: operation manifest, blob, tags, referrers, token, ping or other; result the status class (2xx, 3xx, 4xx, 5xx) or error (no answer)
//	wasmext_module_fetch_duration_seconds{result}         pulls of a module (fetch and inspect), result ok or error
//	wasmext_module_verify_duration_seconds{result}        signature verifications
//	wasmext_module_dry_run_duration_seconds{result}       dry runs in the sandbox
//	wasmext_reconciles_total{reason}                      reconciles by outcome Reason (Succeeded, Suspended, or the failure's Reason)
//	wasmext_extensions{type,status,reason}                extensions by condition, computed from the informer cache at each scrape
//	wasmext_events_pending                                extensions whose Normal Event waits in the event queue
//
// It owns the metrics, the http.RoundTripper that counts registry requests
// and the collector that counts extensions. It must not decide anything:
// callers say what happened and how long it took.
package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Results of the duration histograms.
const (
	ResultOK    = "ok"
	ResultError = "error"
)

var (
	registryRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmext_registry_requests_total",
		Help: "Requests the operator made to OCI registries and their token realms, by operation and result (status class, or error when no answer came).",
	}, []string{"operation", "result"})
	fetchDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wasmext_module_fetch_duration_seconds",
		Help:    "Time to pull and inspect a module, by result (ok, error).",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14), // 10ms to 82s
	}, []string{"result"})
	verifyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wasmext_module_verify_duration_seconds",
		Help:    "Time to verify a module's signature, by result (ok, error).",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	}, []string{"result"})
	dryRunDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wasmext_module_dry_run_duration_seconds",
		Help:    "Time to dry-run a module in the Proxy-Wasm sandbox, by result (ok, error).",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5ms to 41s
	}, []string{"result"})
	reconciles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmext_reconciles_total",
		Help: "WasmExtension reconciles by outcome Reason (Succeeded, Suspended, or the Reason of the step that failed).",
	}, []string{"reason"})
)

func init() {
	registryRequests = Register(registryRequests)
	fetchDuration = Register(fetchDuration)
	verifyDuration = Register(verifyDuration)
	dryRunDuration = Register(dryRunDuration)
	reconciles = Register(reconciles)
}

// ObserveFetch records one module pull that took d.
func ObserveFetch(d time.Duration, err error) { observe(fetchDuration, d, err) }

// ObserveVerify records one signature verification that took d.
func ObserveVerify(d time.Duration, err error) { observe(verifyDuration, d, err) }

// ObserveDryRun records one dry run that took d.
func ObserveDryRun(d time.Duration, err error) { observe(dryRunDuration, d, err) }

// CountReconcile counts one reconcile with outcome reason.
func CountReconcile(reason string) { reconciles.WithLabelValues(reason).Inc() }

func observe(h *prometheus.HistogramVec, d time.Duration, err error) {
	h.WithLabelValues(result(err)).Observe(d.Seconds())
}

func result(err error) string {
	if err != nil {
		return ResultError
	}
	return ResultOK
}

// Register adds c to controller-runtime's registry, or returns the
// collector already registered under its name (tests start several
// managers in one process), so no package panics or counts into the void.
// Every package of the operator registers its metrics with it.
func Register[C prometheus.Collector](c C) C {
	err := metrics.Registry.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(err)
}

// EventsPending exports n, the number of extensions whose Normal Event
// waits in the event queue, as wasmext_events_pending.
func EventsPending(n func() int) {
	Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "wasmext_events_pending",
		Help: "Extensions whose Normal Event waits in the operator's event queue (sent at --event-qps).",
	}, func() float64 { return float64(n()) }))
}
