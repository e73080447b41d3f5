package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/wasmext/wasmext/internal/eventqueue"
	"github.com/wasmext/wasmext/internal/metrics"
)

// Defaults for how fast the operator works through a rollout, chosen from
// `make bench` (N=1,000 extensions over 20 modules on 2 cores, the
// apiserver and etcd on the same cores; docs/benchmarks.md): the reasons
// are in the flag help.
const (
	defaultConcurrent = 16
	defaultQPS        = 300
	defaultBurst      = 600
	defaultEventQPS   = 10
	defaultEventBurst = 25
)

// defineThroughput adds the flags that bound the operator's API traffic.
func (o *options) defineThroughput(fs *pflag.FlagSet) {
	fs.IntVar(&o.concurrent, "concurrent", defaultConcurrent, "Number of WasmExtensions reconciled at once. "+
		"A reconcile mostly waits for its two API writes (apply, status), so more workers than cores pay off: "+
		"in make bench 8 workers stayed below what the apiserver could take (1,000 extensions: 18.6 s at 8, 14.9 s at 16 with --kube-api-qps 400).")
	fs.Float32Var(&o.kubeAPIQPS, "kube-api-qps", defaultQPS, "Queries per second the operator may send to the Kubernetes API. "+
		"An extension needs two writes on its path to Ready and reads come from the cache, so this is about 150 extensions a second; "+
		"the former 50 was the bottleneck of a rollout (1,000 extensions: 27.8 s at 50, 18.6 s at 200; make bench). "+
		"The apiserver's priority and fairness still protects it from a burst.")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", defaultBurst, "Burst of queries the operator may send to the Kubernetes API "+
		"(two seconds at --kube-api-qps, so a rollout of a few hundred extensions is not held back at all).")
	fs.Float32Var(&o.eventQPS, "event-qps", defaultEventQPS, "Normal Events per second the operator sends, apart from --kube-api-qps: "+
		"they wait in a queue (one per extension, later ones merged in, none dropped), and while extensions are being reconciled "+
		"(up to 30 s), so that a rollout's applies and status writes never wait behind them. Warnings are sent at once.")
	fs.IntVar(&o.eventBurst, "event-burst", defaultEventBurst, "Burst of queued Normal Events the operator may send at once "+
		"(an extension applied alone gets its Event at once).")
}

// validateThroughput checks the flags of defineThroughput.
func (o *options) validateThroughput() error {
	if o.concurrent < 1 || o.kubeAPIQPS <= 0 || o.kubeAPIBurst < 1 || o.eventQPS <= 0 || o.eventBurst < 1 {
		return fmt.Errorf("--concurrent, --kube-api-qps, --kube-api-burst, --event-qps and --event-burst must be positive")
	}
	return nil
}

// eventQueue returns the recorder the reconcilers use: Normal Events queued
// and sent at --event-qps while busy says the reconcilers are idle (or an
// Event waited 30 s), added to mgr so that it runs.
func (o *options) eventQueue(mgr ctrl.Manager, busy func() bool) (*eventqueue.Queue, error) {
	q := eventqueue.New(mgr.GetEventRecorder("wasmext"), mgr.GetScheme(),
		eventqueue.Options{QPS: o.eventQPS, Burst: o.eventBurst, Busy: busy, MaxHold: 30 * time.Second})
	if err := mgr.Add(q); err != nil {
		return nil, fmt.Errorf("adding the event queue: %w", err)
	}
	metrics.EventsPending(q.Len)
	return q, nil
}
