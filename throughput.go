package main

import (
	"fmt"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/wasmext/wasmext/internal/eventqueue"
	"github.com/wasmext/wasmext/internal/metrics"
)

// Defaults for how fast the operator works through a rollout, chosen from
// `make bench` (docs/benchmarks.md): the reasons are in the flag help.
const (
	defaultConcurrent = 8
	defaultQPS        = 50
	defaultBurst      = 100
	defaultEventQPS   = 20
	defaultEventBurst = 50
)

// defineThroughput adds the flags that bound the operator's API traffic.
func (o *options) defineThroughput(fs *pflag.FlagSet) {
	fs.IntVar(&o.concurrent, "concurrent", defaultConcurrent, "Number of WasmExtensions reconciled at once.")
	fs.Float32Var(&o.kubeAPIQPS, "kube-api-qps", defaultQPS, "Queries per second the operator may send to the Kubernetes API.")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", defaultBurst, "Burst of queries the operator may send to the Kubernetes API.")
	fs.Float32Var(&o.eventQPS, "event-qps", defaultEventQPS, "Normal Events per second the operator sends, apart from --kube-api-qps: they wait in a queue (one per extension, later ones merged in, none dropped) so that a rollout's applies and status writes never wait behind them. Warnings are sent at once.")
	fs.IntVar(&o.eventBurst, "event-burst", defaultEventBurst, "Burst of queued Normal Events the operator may send at once.")
}

// validateThroughput checks the flags of defineThroughput.
func (o *options) validateThroughput() error {
	if o.concurrent < 1 || o.kubeAPIQPS <= 0 || o.kubeAPIBurst < 1 || o.eventQPS <= 0 || o.eventBurst < 1 {
		return fmt.Errorf("--concurrent, --kube-api-qps, --kube-api-burst, --event-qps and --event-burst must be positive")
	}
	return nil
}

// eventQueue returns the recorder the reconcilers use: Normal Events queued
// and sent at --event-qps, added to mgr so that it runs.
func (o *options) eventQueue(mgr ctrl.Manager) (*eventqueue.Queue, error) {
	q := eventqueue.New(mgr.GetEventRecorder("wasmext"), mgr.GetScheme(), eventqueue.Options{QPS: o.eventQPS, Burst: o.eventBurst})
	if err := mgr.Add(q); err != nil {
		return nil, fmt.Errorf("adding the event queue: %w", err)
	}
	metrics.EventsPending(q.Len)
	return q, nil
}
