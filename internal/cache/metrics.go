package cache

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Request results counted in wasmext_cache_requests_total. Every answered
// GET or HEAD counts once: hit (served from the Store), miss (served after a
// Refill), refill_error (5xx: Refill failed or returned other bytes),
// not_found (404: bad path or token, or nothing references the sha256).
const (
	resultHit         = "hit"
	resultMiss        = "miss"
	resultRefillError = "refill_error"
	resultNotFound    = "not_found"
)

// The gauges are changed by deltas, so several Stores in one process (tests)
// add up instead of overwriting each other.
var (
	cacheBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wasmext_cache_bytes",
		Help: "Total size in bytes of the Wasm modules held in the module cache.",
	})
	cacheModules = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wasmext_cache_modules",
		Help: "Number of Wasm modules held in the module cache.",
	})
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmext_cache_requests_total",
		Help: "Module requests served by the module cache, by result (hit, miss, refill_error, not_found).",
	}, []string{"result"})
	evictions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wasmext_cache_evictions_total",
		Help: "Wasm modules evicted from the module cache to make room.",
	})
)

func init() {
	for _, r := range []string{resultHit, resultMiss, resultRefillError, resultNotFound} {
		requests.WithLabelValues(r)
	}
	cacheBytes = register(cacheBytes)
	cacheModules = register(cacheModules)
	requests = register(requests)
	evictions = register(evictions)
}

// register adds c to controller-runtime's registry. Package init runs once
// per binary, but should something else have registered the same metric
// first, use that collector rather than panic or count into the void.
func register[C prometheus.Collector](c C) C {
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
