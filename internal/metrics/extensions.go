package metrics

import (
	"context"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// listTimeout bounds the cache list of one scrape.
const listTimeout = 5 * time.Second

var extensionsDesc = prometheus.NewDesc("wasmext_extensions",
	"WasmExtensions by condition type, status and reason, as the operator's informer cache holds them.",
	[]string{"type", "status", "reason"}, nil)

// Extensions collects wasmext_extensions from reader's WasmExtensions at
// each scrape: no state to keep in step with reconciles and deletions.
type Extensions struct{ reader client.Reader }

// RegisterExtensions registers the collector for reader (the manager's
// cached client) once per process; a later call keeps the first.
func RegisterExtensions(reader client.Reader) {
	Register(prometheus.Collector(&Extensions{reader: reader}))
}

// Describe implements prometheus.Collector.
func (e *Extensions) Describe(ch chan<- *prometheus.Desc) { ch <- extensionsDesc }

// Collect implements prometheus.Collector. When the cache cannot be
// listed, the family is left out of this scrape.
func (e *Extensions) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	var list v1alpha1.WasmExtensionList
	// Only read: the cache's own objects, not a deep copy of every
	// extension per scrape (50 MB at 10,000 extensions, make bench).
	if err := e.reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "Listing WasmExtensions for metrics failed")
		return
	}
	for _, c := range CountConditions(list.Items) {
		ch <- prometheus.MustNewConstMetric(extensionsDesc, prometheus.GaugeValue, float64(c.N), c.Type, c.Status, c.Reason)
	}
}

// ConditionCount is how many extensions have one condition type, status
// and reason.
type ConditionCount struct {
	Type, Status, Reason string
	N                    int
}

// CountConditions counts exts by condition, sorted by type, status and
// reason.
func CountConditions(exts []v1alpha1.WasmExtension) []ConditionCount {
	n := map[[3]string]int{}
	for i := range exts {
		for _, c := range exts[i].Status.Conditions {
			n[[3]string{c.Type, string(c.Status), c.Reason}]++
		}
	}
	out := make([]ConditionCount, 0, len(n))
	for k, v := range n {
		out = append(out, ConditionCount{Type: k[0], Status: k[1], Reason: k[2], N: v})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Status != b.Status {
			return a.Status < b.Status
		}
		return a.Reason < b.Reason
	})
	return out
}
