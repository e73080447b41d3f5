package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/testenv"
	"github.com/wasmext/wasmext/internal/testenv/proc"
	"github.com/wasmext/wasmext/test/demo/operator"
)

// result is what one N measured.
type result struct {
	n, modules     int
	verify         bool
	interval       time.Duration
	opArgs         []string
	loadStart      string
	cpStart        time.Duration
	created        time.Duration // creating the N objects
	createLatency  []time.Duration
	warmup         time.Duration // the first create on the fresh API server, before the operator runs
	settle         time.Duration // after the last Ready until the operator went quiet
	allReady       time.Duration // first create → last Ready (0: not all Ready)
	readyTimes     []time.Duration
	notReady       map[string]int // reason → count, for extensions never Ready
	deliveries     map[v1alpha1.Delivery]int
	phase, steady  window
	sinceStart     proc.Usage // at the end of the phase
	regPerDigest   []ocitest.Counts
	steadyDuration time.Duration
	logFile        string
}

// oneRun is one N in one mode: a fresh control plane and operator, and
// what they measured.
type oneRun struct {
	*bench
	n          int
	mode       runMode
	spec       specOpts
	r          *result
	env        *testenv.Env
	c          client.WithWatch
	namespaces []string
	op         *operator.Process
	metricsURL string // the operator's /metrics
	hc         *http.Client
	prof       *profiler // with -pprof
	waitErr    error     // why not all became Ready
}

// runOne measures n extensions in one mode. It returns the result so far
// along with an error once the phase has been measured, and no result
// before.
func (b *bench) runOne(ctx context.Context, n int, mode runMode) (_ *result, err error) {
	x := &oneRun{bench: b, n: n, mode: mode, spec: specOpts{verify: mode.verify, interval: b.o.interval}, hc: &http.Client{},
		r: &result{n: n, modules: len(b.mods), verify: mode.verify, interval: b.o.interval, loadStart: loadavg()}}
	fmt.Printf("\n--- N=%d%s: starting control plane ... ", n, mode.label())
	se, err := b.envs.start(testenv.Options{})
	if err != nil {
		return nil, err
	}
	x.env, x.r.cpStart = se.env, se.waited
	defer func() { err = errors.Join(err, x.env.Stop()) }()
	fmt.Printf("%s; ", se)
	if err := x.setUp(ctx); err != nil {
		return nil, err
	}
	if err := x.startOperator(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if stopErr := x.op.Stop(15 * time.Second); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping the operator: %w\n%s", stopErr, x.op.Tail(20)))
		}
	}()
	fmt.Printf("ready (pid %d)\n", x.op.Pid)

	// Watch before creating, so no Ready is missed.
	tracker, err := watchReady(ctx, x.c, n)
	if err != nil {
		return nil, err
	}
	defer tracker.stop()
	after, err := x.measurePhase(ctx, tracker)
	b.envs.ahead() // (a no-op unless the phase failed early)
	if err != nil {
		return nil, err
	}
	x.profileHeap(ctx)
	if x.waitErr != nil {
		return x.r, fmt.Errorf("%w\n%s", x.waitErr, x.op.Tail(20))
	}
	if b.o.steady > 0 {
		return x.r, x.measureSteady(ctx, tracker, after)
	}
	return x.r, nil
}

// setUp creates the client, the namespaces (with the key Secret when
// verifying) and warms the API server up.
func (x *oneRun) setUp(ctx context.Context) error {
	if err := x.setUpNamespaces(ctx); err != nil {
		return err
	}
	// The API server makes creates sleep 2s while their CRD is less than 2s
	// Established (apiextensions-apiserver's customresource_handler), which
	// on a fresh control plane hits the first creates; that is not the
	// operator's time, so it is spent before the operator starts.
	var err error
	if x.r.warmup, err = warmUp(ctx, x.c, x.namespaces[0], x.mods[0], x.spec); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	return nil
}

// startOperator starts the operator with its metrics on a free port.
func (x *oneRun) startOperator(ctx context.Context) error {
	metricsAddr, err := proc.FreeAddr()
	if err != nil {
		return err
	}
	x.metricsURL = "http://" + metricsAddr + "/metrics"
	o := x.o
	args := []string{"--metrics-bind-address=" + metricsAddr, "--metrics-secure=false", "--zap-log-level=error", "--concurrent=" + strconv.Itoa(o.concurrent)}
	if o.qps > 0 {
		args = append(args, "--kube-api-qps="+strconv.FormatFloat(o.qps, 'f', -1, 64))
	}
	if o.burst > 0 {
		args = append(args, "--kube-api-burst="+strconv.Itoa(o.burst))
	}
	pprofArgs, err := x.pprofArgs()
	if err != nil {
		return err
	}
	args = append(args, pprofArgs...)
	x.r.opArgs = args
	x.r.logFile = filepath.Join(o.work, fmt.Sprintf("%s%d.log", operatorLogPrefix, x.n))
	if x.mode.verify {
		x.r.logFile = filepath.Join(o.work, fmt.Sprintf("%s%d-verify.log", operatorLogPrefix, x.n))
	}
	fmt.Printf("starting operator ... ")
	var env []string
	if o.memLimit != "" {
		env = append(env, "GOMEMLIMIT="+o.memLimit)
		x.r.opArgs = append(x.r.opArgs, "(GOMEMLIMIT="+o.memLimit+")")
	}
	x.op, err = operator.Start(ctx, operator.Options{Binary: x.binary, Kubeconfig: x.env.Kubeconfig, LogFile: x.r.logFile, Args: args, Env: env})
	return err
}

// snap reads every counter.
func (x *oneRun) snap(ctx context.Context) (snapshot, error) {
	var s snapshot
	var err1, err2, err3 error
	s.op, err1 = scrape(ctx, x.hc, x.metricsURL)
	s.registry = x.reg.Counts()
	s.sig = x.proxy.Counts()
	s.usage, err2 = proc.ReadUsage(x.op.Pid)
	s.apiSrv, err3 = scrapeAPIServer(ctx, x.env.Config)
	return s, errors.Join(err1, err2, err3)
}

// measurePhase creates the extensions, waits until all are Ready and the
// operator has gone quiet, and records the phase in x.r, and why not all
// became Ready in x.waitErr. It returns the snapshot at the end of the
// phase, or an error when nothing could be recorded.
func (x *oneRun) measurePhase(ctx context.Context, tracker *tracker) (snapshot, error) {
	r := x.r
	x.reg.Reset()
	before, err := x.snap(ctx)
	if err != nil {
		return before, err
	}
	fmt.Printf("    creating %d WasmExtensions ... ", x.n)
	endProfile := x.profileRollout(ctx)
	start := time.Now()
	if r.createLatency, err = create(ctx, x.c, x.o, x.namespaces, x.mods, x.n, x.spec); err != nil {
		return before, err
	}
	r.created = time.Since(start)
	fmt.Printf("%s; waiting for Ready ... ", dur(r.created))

	x.waitErr = tracker.wait(ctx, start, x.o.timeout, x.op.Exited())
	x.envs.ahead() // nothing timed is left: settling only counts
	if x.waitErr == nil {
		// Let the work that follows the last status write finish (the
		// reconcile returning, events sent by the broadcaster, reconciles
		// triggered by the operator's own writes) so it counts in the phase
		// and not in the steady window.
		r.settle = settle(ctx, x.hc, x.metricsURL, true)
	}
	endProfile() // the rollout and its settling, overshot by at most one chunk
	after, err := x.snap(ctx)
	if err != nil {
		return after, errors.Join(x.waitErr, err)
	}
	r.readyTimes = tracker.readyTimes(start)
	r.notReady = tracker.notReadyReasons()
	r.deliveries = tracker.deliveries()
	if x.waitErr == nil {
		r.allReady = r.readyTimes[len(r.readyTimes)-1]
		fmt.Printf("all Ready after %s\n", dur(r.allReady))
	} else {
		fmt.Printf("%v\n", x.waitErr)
	}
	r.phase = diff(before, after)
	r.sinceStart = after.usage
	for _, m := range x.mods[:min(x.n, len(x.mods))] { // the digests in use
		r.regPerDigest = append(r.regPerDigest, x.reg.CountsFor(m.repo))
	}
	return after, nil
}

// measureSteady watches the idle operator for -steady after the phase
// ended at snapshot after.
func (x *oneRun) measureSteady(ctx context.Context, tracker *tracker, after snapshot) error {
	fmt.Printf("    steady state: watching for %s ... ", x.o.steady)
	select {
	case <-time.After(x.o.steady):
	case <-ctx.Done():
		return ctx.Err()
	case <-x.op.Exited():
		return fmt.Errorf("the operator exited during the steady window\n%s", x.op.Tail(20))
	}
	end, err := x.snap(ctx)
	if err != nil {
		return err
	}
	x.r.steady = diff(after, end)
	x.r.steadyDuration = x.o.steady
	// Everything must still be Ready.
	if lost := tracker.notReadyNow(); lost > 0 {
		fmt.Printf("%d extensions lost Ready!\n", lost)
	} else {
		fmt.Printf("done\n")
	}
	return nil
}

// setUpNamespaces creates the client and the namespaces, with the key
// Secret in each when verifying: the same for the operator and the peer.
func (x *oneRun) setUpNamespaces(ctx context.Context) error {
	var err error
	if x.c, err = newClient(x.env); err != nil {
		return err
	}
	x.namespaces = make([]string, x.o.namespaces)
	for i := range x.namespaces {
		x.namespaces[i] = fmt.Sprintf("bench-%d", i)
		if err := x.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: x.namespaces[i]}}); err != nil {
			return err
		}
		if x.mode.verify {
			if err := createKeySecret(ctx, x.c, x.namespaces[i], x.mode.pub); err != nil {
				return err
			}
		}
	}
	return nil
}
