package cache

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmext/wasmext/internal/metrics"
)

// The module server's metrics, in controller-runtime's registry (served at
// the operator's /metrics). Names follow Prometheus conventions: counters
// end in _total, sizes are in bytes and end in _bytes.
//
//	wasmext_module_server_requests_total{code}   answered requests by HTTP status code
//	wasmext_module_server_sent_bytes_total       module bytes written in response bodies
//	wasmext_module_cache_hits_total              in-use modules found in the Store
//	wasmext_module_cache_misses_total            in-use modules not in the Store (a refill follows)
//	wasmext_module_cache_refills_total{result}   Refill calls: ok, unknown, digest_mismatch, error
//	wasmext_module_cache_evictions_total         modules evicted to make room
//	wasmext_module_cache_corrupt_files_total     files of a disk Store whose sha256 did not match
//	wasmext_module_cache_entries                 modules held
//	wasmext_module_cache_size_bytes              bytes of modules held (memory or disk)
//
// The gauges change by deltas, so several Stores in one process (tests)
// add up instead of overwriting each other.
var (
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmext_module_server_requests_total",
		Help: "Requests answered by the module server, by HTTP status code.",
	}, []string{"code"})
	sentBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wasmext_module_server_sent_bytes_total",
		Help: "Bytes of Wasm modules sent in module server response bodies.",
	})
	hits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wasmext_module_cache_hits_total",
		Help: "Requests for a module in use that the module cache held.",
	})
	misses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wasmext_module_cache_misses_total",
		Help: "Requests for a module in use that the module cache did not hold (a refill follows).",
	})
	refills = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmext_module_cache_refills_total",
		Help: "Modules re-pulled after a miss, by result (ok, unknown, digest_mismatch, error).",
	}, []string{"result"})
	evictions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wasmext_module_cache_evictions_total",
		Help: "Wasm modules evicted from the module cache to make room.",
	})
	corruptFiles = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wasmext_module_cache_corrupt_files_total",
		Help: "Files of the on-disk module cache refused and deleted because their sha256 did not match.",
	})
	entries = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wasmext_module_cache_entries",
		Help: "Number of Wasm modules held in the module cache.",
	})
	sizeBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wasmext_module_cache_size_bytes",
		Help: "Total size in bytes of the Wasm modules held in the module cache (memory or disk).",
	})
)

// Refill results counted in wasmext_module_cache_refills_total.
const (
	refillOK       = "ok"
	refillUnknown  = "unknown"
	refillMismatch = "digest_mismatch"
	refillError    = "error"
)

// codes are the status codes a Server answers with.
var codes = []int{200, 304, 404, 405, 502, 503}

func init() {
	for _, c := range codes {
		requests.WithLabelValues(strconv.Itoa(c))
	}
	for _, r := range []string{refillOK, refillUnknown, refillMismatch, refillError} {
		refills.WithLabelValues(r)
	}
	requests = metrics.Register(requests)
	sentBytes = metrics.Register(sentBytes)
	hits = metrics.Register(hits)
	misses = metrics.Register(misses)
	refills = metrics.Register(refills)
	evictions = metrics.Register(evictions)
	corruptFiles = metrics.Register(corruptFiles)
	entries = metrics.Register(entries)
	sizeBytes = metrics.Register(sizeBytes)
}

// countRequest counts one answered request.
func countRequest(code int) {
	requests.WithLabelValues(strconv.Itoa(code)).Inc()
}
