// Command bench measures the operator: how long N WasmExtensions over M
// distinct modules take to become Ready, and what that costs in API server
// requests, registry requests, CPU and memory, then what an idle window
// costs. It prints figures; it asserts nothing.
//
//	make bench                                      # or: go run ./test/bench
//	go run ./test/bench -n 1,50 -steady 10s         # a quick look
//
// Parts, all real and local: a kube-apiserver + etcd (envtest, fresh for
// every N), the in-process OCI registry of internal/oci/ocitest (so every
// request is counted), and the operator built from this repository and run
// as a child process, so its CPU time and memory are its own. The bench's own
// client has a high QPS and burst, so creating the objects is not what is
// measured.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	"github.com/opencontainers/go-digest"
	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/testenv"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
	"github.com/wasmext/wasmext/test/demo/operator"
)

// Peer figures from the product team: Flux source-controller on this kind of machine.
const (
	peerOneReady      = 0.8  // s, 1 OCIRepository
	peerManyReady     = 23.0 // s, 500 OCIRepositories over 20 artifacts
	peerManyN         = 500
	peerBlobGETs      = 500  // for 500 objects
	peerAPIPerObject  = 10.0 // API requests per object
	benchClientQPS    = 1000
	benchClientBurst  = 2000
	operatorLogPrefix = "operator-n"
)

type options struct {
	ns         []int
	modules    int
	steady     time.Duration
	concurrent int
	qps        float64
	burst      int
	timeout    time.Duration
	namespaces int
	creators   int
	work       string
	verify     bool
	resync     string
	interval   time.Duration // spec.module.interval of every extension (0: unset)
}

func main() {
	o := options{}
	var ns string
	flag.StringVar(&ns, "n", "1,500", "comma-separated numbers of WasmExtensions, one run each")
	flag.IntVar(&o.modules, "modules", 20, "distinct modules (extension i uses module i % modules)")
	flag.DurationVar(&o.steady, "steady", 60*time.Second, "idle window measured after all extensions are Ready (0 skips it)")
	flag.IntVar(&o.concurrent, "concurrent", 8, "operator --concurrent")
	flag.Float64Var(&o.qps, "qps", 0, "operator --kube-api-qps (0: the operator's default)")
	flag.IntVar(&o.burst, "burst", 0, "operator --kube-api-burst (0: the operator's default)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up waiting for all Ready after this long")
	flag.IntVar(&o.namespaces, "namespaces", 1, "spread the extensions over this many namespaces")
	flag.IntVar(&o.creators, "creators", 16, "parallel creates by the bench client")
	flag.StringVar(&o.work, "workdir", "", "directory for the operator logs (default: a new temp dir, kept)")
	flag.BoolVar(&o.verify, "verify", true, "run each N twice, without and with cosign signature verification, and report the verification cost")
	flag.StringVar(&o.resync, "resync", "auto", "spec.module.interval of every extension: a duration, off (operator default, 10m), or auto (steady/2 with -verify, so the steady window holds resyncs; else off)")
	flag.Parse()
	for _, s := range strings.Split(ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "-n: %q is not a positive number\n", s)
			os.Exit(2)
		}
		o.ns = append(o.ns, n)
	}
	if o.modules < 1 || o.namespaces < 1 || o.creators < 1 || o.concurrent < 1 {
		fmt.Fprintln(os.Stderr, "-modules, -namespaces, -creators and -concurrent must be positive")
		os.Exit(2)
	}
	switch o.resync {
	case "off":
	case "auto":
		if o.verify && o.steady > 0 {
			o.interval = max(time.Second, (o.steady / 2).Round(time.Second))
		}
	default:
		d, err := time.ParseDuration(o.resync)
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "-resync: %q is not auto, off or a positive duration\n", o.resync)
			os.Exit(2)
		}
		o.interval = d
	}
	// Shut down cleanly (the control plane is not our child) on Ctrl-C, a closed
	// terminal or a closed pipe (`| head`): a write to it then fails instead of killing us.
	signal.Ignore(syscall.SIGPIPE)
	ctrllog.SetLogger(logr.Discard()) // envtest logs through it; our errors are returned
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "\nbench FAILED:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	if o.work == "" {
		if o.work, err = os.MkdirTemp("", "wasmext-bench-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	fmt.Printf("wasmext bench: N=%v extensions over %d modules; %d CPUs; logs in %s\n", o.ns, o.modules, cpus(), o.work)

	t := time.Now()
	binary := filepath.Join(root, "bin", "manager")
	if err := operator.Build(ctx, root, binary); err != nil {
		return err
	}
	fmt.Printf("built %s in %s\n", rel(root, binary), dur(time.Since(t)))

	reg, err := ocitest.StartRegistry()
	if err != nil {
		return err
	}
	defer reg.Close()
	// The operator talks to the registry through a counting proxy that tells
	// signature artifacts apart by digest; pushes and signing go direct.
	proxy, err := startSigProxy(reg.Host)
	if err != nil {
		return err
	}
	defer proxy.Close()
	mods := make([]module, o.modules)
	for i := range mods {
		mods[i].repo = fmt.Sprintf("bench/mod-%02d", i)
		mods[i].image = proxy.Host + "/" + mods[i].repo + ":1.0.0"
		if mods[i].digest, err = ocitest.Push(ctx, reg.Host, mods[i].repo+":1.0.0", oci.FormatCNCF, wasmtest.Variant(i)); err != nil {
			return err
		}
	}
	fmt.Printf("pushed %d CNCF Wasm artifacts to the in-process registry %s (one repository each, tag 1.0.0); the operator reaches it through the counting proxy %s\n", len(mods), reg.Host, proxy.Host)
	modes := []runMode{{}}
	if o.verify {
		pub, err := signModules(ctx, reg.Host, proxy, mods)
		if err != nil {
			return err
		}
		modes = append(modes, runMode{verify: true, pub: pub})
		fmt.Printf("signed each module once with one new ECDSA P-256 key (sigstore bundle as an OCI referrer); -verify runs each N twice: verification off, then on (Secret %s in each namespace, spec.verify.cosign.publicKeySecretRef on every extension)\n", keySecretName)
	}
	if o.interval > 0 {
		fmt.Printf("every extension has spec.module.interval %s (-resync), so the steady window holds periodic resyncs\n", o.interval)
	}
	fmt.Printf("each run has a fresh control plane and a freshly started operator; the registry is shared, its counts reset per run\n")

	var results []*result
	for _, n := range o.ns {
		var off *result
		for _, mode := range modes {
			r, err := runOne(ctx, o, binary, reg, proxy, mods, n, mode)
			if r != nil {
				r.print(o)
				results = append(results, r)
				if !mode.verify {
					off = r
				} else {
					printVerification(off, r)
				}
			}
			if err != nil {
				return fmt.Errorf("N=%d%s: %w", n, mode.label(), err)
			}
		}
	}
	summary(results)
	return nil
}

// runMode is what differs between the two runs of one N.
type runMode struct {
	verify bool
	pub    []byte // PEM public key for the namespaces' key Secret
}

func (m runMode) label() string {
	if m.verify {
		return ", verification on"
	}
	return ""
}

type module struct {
	repo, image string
	digest      digest.Digest
}

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
	phase, steady  window
	sinceStart     operator.Usage // at the end of the phase
	regPerDigest   []ocitest.Counts
	steadyDuration time.Duration
	logFile        string
}

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
}

func (w window) apiTotal() float64 { return sumAll(w.apiByMethod) }

func (w window) apiWrites() float64 {
	return w.apiByMethod["POST"] + w.apiByMethod["PUT"] + w.apiByMethod["PATCH"] + w.apiByMethod["DELETE"]
}

func (w window) apiReads() float64 { return w.apiTotal() - w.apiWrites() }

// snapshot is the state of every counter at one instant.
type snapshot struct {
	op       metrics
	apiSrv   metrics
	registry ocitest.Counts
	sig      sigCounts
	usage    operator.Usage
}

func runOne(ctx context.Context, o options, binary string, reg *ocitest.Registry, proxy *sigProxy, mods []module, n int, mode runMode) (_ *result, err error) {
	r := &result{n: n, modules: len(mods), verify: mode.verify, interval: o.interval, loadStart: loadavg()}
	fmt.Printf("\n--- N=%d%s: starting control plane ... ", n, mode.label())
	t := time.Now()
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, env.Stop()) }()
	r.cpStart = time.Since(t)
	fmt.Printf("%s; ", dur(r.cpStart))

	c, err := newClient(env)
	if err != nil {
		return nil, err
	}
	namespaces := make([]string, o.namespaces)
	for i := range namespaces {
		namespaces[i] = fmt.Sprintf("bench-%d", i)
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaces[i]}}); err != nil {
			return nil, err
		}
		if mode.verify {
			if err := createKeySecret(ctx, c, namespaces[i], mode.pub); err != nil {
				return nil, err
			}
		}
	}
	spec := specOpts{verify: mode.verify, interval: o.interval}

	// The API server makes creates sleep 2s while their CRD is less than 2s
	// Established (apiextensions-apiserver's customresource_handler), which
	// on a fresh control plane hits the first creates; that is not the
	// operator's time, so it is spent before the operator starts.
	if r.warmup, err = warmUp(ctx, c, namespaces[0], mods[0], spec); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}

	metricsAddr, err := operator.FreeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"--metrics-bind-address=" + metricsAddr, "--zap-log-level=error", "--concurrent=" + strconv.Itoa(o.concurrent)}
	if o.qps > 0 {
		args = append(args, "--kube-api-qps="+strconv.FormatFloat(o.qps, 'f', -1, 64))
	}
	if o.burst > 0 {
		args = append(args, "--kube-api-burst="+strconv.Itoa(o.burst))
	}
	r.opArgs = args
	r.logFile = filepath.Join(o.work, fmt.Sprintf("%s%d.log", operatorLogPrefix, n))
	if mode.verify {
		r.logFile = filepath.Join(o.work, fmt.Sprintf("%s%d-verify.log", operatorLogPrefix, n))
	}
	fmt.Printf("starting operator ... ")
	op, err := operator.Start(ctx, operator.Options{Binary: binary, Kubeconfig: env.Kubeconfig, LogFile: r.logFile, Args: args})
	if err != nil {
		return nil, err
	}
	defer func() {
		if stopErr := op.Stop(15 * time.Second); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping the operator: %w\n%s", stopErr, op.Tail(20)))
		}
	}()
	fmt.Printf("ready (pid %d)\n", op.Pid)
	opMetrics := "http://" + metricsAddr + "/metrics"
	hc := &http.Client{}
	snap := func() (snapshot, error) {
		var s snapshot
		var err1, err2, err3 error
		s.op, err1 = scrape(ctx, hc, opMetrics)
		s.registry = reg.Counts()
		s.sig = proxy.Counts()
		s.usage, err2 = operator.ReadUsage(op.Pid)
		s.apiSrv, err3 = scrapeAPIServer(ctx, env.Config)
		return s, errors.Join(err1, err2, err3)
	}

	// Watch before creating, so no Ready is missed.
	tracker, err := watchReady(ctx, c, n)
	if err != nil {
		return nil, err
	}
	defer tracker.stop()

	reg.Reset()
	before, err := snap()
	if err != nil {
		return nil, err
	}
	fmt.Printf("    creating %d WasmExtensions ... ", n)
	start := time.Now()
	if r.createLatency, err = create(ctx, c, o, namespaces, mods, n, spec); err != nil {
		return nil, err
	}
	r.created = time.Since(start)
	fmt.Printf("%s; waiting for Ready ... ", dur(r.created))

	waitErr := tracker.wait(ctx, start, o.timeout, op.Exited())
	if waitErr == nil {
		// Let the work that follows the last status write finish (the
		// reconcile returning, events sent by the broadcaster, reconciles
		// triggered by the operator's own writes) so it counts in the phase
		// and not in the steady window.
		r.settle = settle(ctx, hc, opMetrics)
	}
	after, err := snap()
	if err != nil {
		return nil, errors.Join(waitErr, err)
	}
	r.readyTimes = tracker.readyTimes(start)
	r.notReady = tracker.notReadyReasons()
	if waitErr == nil {
		r.allReady = r.readyTimes[len(r.readyTimes)-1]
		fmt.Printf("all Ready after %s\n", dur(r.allReady))
	} else {
		fmt.Printf("%v\n", waitErr)
	}
	r.phase = diff(before, after)
	r.sinceStart = after.usage
	for _, m := range mods[:min(n, len(mods))] { // the digests in use
		r.regPerDigest = append(r.regPerDigest, reg.CountsFor(m.repo))
	}
	if waitErr != nil {
		return r, fmt.Errorf("%w\n%s", waitErr, op.Tail(20))
	}

	if o.steady > 0 {
		fmt.Printf("    steady state: watching for %s ... ", o.steady)
		select {
		case <-time.After(o.steady):
		case <-ctx.Done():
			return r, ctx.Err()
		case <-op.Exited():
			return r, fmt.Errorf("the operator exited during the steady window\n%s", op.Tail(20))
		}
		end, err := snap()
		if err != nil {
			return r, err
		}
		r.steady = diff(after, end)
		r.steadyDuration = o.steady
		// Everything must still be Ready.
		if lost := tracker.notReadyNow(); lost > 0 {
			fmt.Printf("%d extensions lost Ready!\n", lost)
		} else {
			fmt.Printf("done\n")
		}
	}
	return r, nil
}

func newClient(env *testenv.Env) (client.WithWatch, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, clientext.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	cfg := *env.Config
	cfg.QPS, cfg.Burst = benchClientQPS, benchClientBurst
	cfg.UserAgent = "wasmext-bench"
	return client.NewWithWatch(&cfg, client.Options{Scheme: s})
}

// create creates n extensions with o.creators parallel clients' worth of
// requests; extension i uses module i % len(mods).
func create(ctx context.Context, c client.Client, o options, namespaces []string, mods []module, n int, spec specOpts) ([]time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	lat := make([]time.Duration, n)
	errs := make(chan error, o.creators)
	for range min(o.creators, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				if err := c.Create(ctx, extension(i, namespaces[i%len(namespaces)], mods[i%len(mods)], spec)); err != nil {
					errs <- fmt.Errorf("creating extension %d: %w", i, err)
					return
				}
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	close(errs)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, errors.Join(func() (all []error) {
		for err := range errs {
			all = append(all, err)
		}
		return
	}()...)
}

// warmUp creates and deletes one extension (no operator runs yet, so no
// finalizer holds it) and returns how long that took.
func warmUp(ctx context.Context, c client.Client, ns string, m module, spec specOpts) (time.Duration, error) {
	start := time.Now()
	ext := extension(0, ns, m, spec)
	ext.Name = "bench-warm-up"
	if err := c.Create(ctx, ext); err != nil {
		return 0, err
	}
	if err := c.Delete(ctx, ext); err != nil {
		return 0, err
	}
	for {
		err := c.Get(ctx, client.ObjectKeyFromObject(ext), ext)
		if apierrors.IsNotFound(err) {
			return time.Since(start), nil
		} else if err != nil {
			return 0, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settle scrapes the operator's metrics every 500ms until its API request
// and reconcile counters stop moving for 1.5s (at most 15s), and says how
// long that took.
func settle(ctx context.Context, hc *http.Client, url string) time.Duration {
	start := time.Now()
	last, still := -1.0, 0
	for time.Since(start) < 15*time.Second && ctx.Err() == nil {
		m, err := scrape(ctx, hc, url)
		if err != nil {
			break
		}
		v := m.sum("rest_client_requests_total", nil) + m.sum("controller_runtime_reconcile_total", nil)
		if v == last {
			if still++; still >= 3 {
				return time.Since(start) - 1500*time.Millisecond
			}
		} else {
			last, still = v, 0
		}
		time.Sleep(500 * time.Millisecond)
	}
	return time.Since(start)
}

// specOpts are the spec fields set on every extension of a run.
type specOpts struct {
	verify   bool          // spec.verify.cosign.publicKeySecretRef: keySecretName
	interval time.Duration // spec.module.interval (0: unset)
}

func extension(i int, ns string, m module, o specOpts) *v1alpha1.WasmExtension {
	prio := int32(i % 100)
	ext := &v1alpha1.WasmExtension{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ext-%04d", i), Namespace: ns},
		Spec: v1alpha1.WasmExtensionSpec{
			Module:       v1alpha1.ModuleSource{Image: m.image, Insecure: true},
			Selector:     &v1alpha1.WorkloadSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("app-%d", i)}},
			Phase:        v1alpha1.PhaseAuthn,
			Priority:     &prio,
			PluginConfig: &apiextensionsv1.JSON{Raw: fmt.Appendf(nil, `{"header":"x-bench","value":"%d"}`, i)},
		},
	}
	if o.verify {
		ext.Spec.Verify = &v1alpha1.Verification{Cosign: v1alpha1.CosignVerification{
			PublicKeySecretRef: &v1alpha1.LocalObjectReference{Name: keySecretName}}}
	}
	if o.interval > 0 {
		ext.Spec.Module.Interval = &metav1.Duration{Duration: o.interval}
	}
	return ext
}

// ---- readiness tracking --------------------------------------------------------------------------

// tracker follows the extensions through a watch and records when each
// first became Ready for its generation.
type tracker struct {
	n      int
	mu     sync.Mutex
	ready  map[string]time.Time // first Ready
	now    map[string]bool      // Ready at the latest event
	reason map[string]string    // Ready reason at the latest event, while not Ready
	stalls map[string]bool
	change chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func watchReady(ctx context.Context, c client.WithWatch, n int) (*tracker, error) {
	ctx, cancel := context.WithCancel(ctx)
	t := &tracker{n: n, ready: map[string]time.Time{}, now: map[string]bool{}, reason: map[string]string{},
		stalls: map[string]bool{}, change: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	var list v1alpha1.WasmExtensionList
	if err := c.List(ctx, &list); err != nil {
		cancel()
		return nil, err
	}
	w, err := c.Watch(ctx, &v1alpha1.WasmExtensionList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		cancel()
		return nil, err
	}
	go t.loop(ctx, c, w)
	return t, nil
}

func (t *tracker) loop(ctx context.Context, c client.WithWatch, w watch.Interface) {
	defer close(t.done)
	for {
		for ev := range w.ResultChan() {
			if ext, ok := ev.Object.(*v1alpha1.WasmExtension); ok && ev.Type != watch.Deleted {
				t.observe(ext)
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return
		}
		// The watch ended (timeout, compaction): list again and resume.
		var list v1alpha1.WasmExtensionList
		if err := c.List(ctx, &list); err != nil {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(time.Second)
			continue
		}
		for i := range list.Items {
			t.observe(&list.Items[i])
		}
		var err error
		if w, err = c.Watch(ctx, &v1alpha1.WasmExtensionList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}}); err != nil {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(time.Second)
			w = watch.NewEmptyWatch()
		}
	}
}

func (t *tracker) observe(ext *v1alpha1.WasmExtension) {
	key := ext.Namespace + "/" + ext.Name
	ready := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady)
	isReady := ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == ext.Generation
	stalled := meta.IsStatusConditionTrue(ext.Status.Conditions, v1alpha1.ConditionStalled)
	t.mu.Lock()
	t.now[key] = isReady
	t.stalls[key] = stalled
	if isReady {
		if _, seen := t.ready[key]; !seen {
			t.ready[key] = time.Now()
		}
		delete(t.reason, key)
	} else if ready != nil {
		t.reason[key] = ready.Reason
	} else {
		t.reason[key] = "NoReadyCondition"
	}
	t.mu.Unlock()
	select {
	case t.change <- struct{}{}:
	default:
	}
}

// wait returns when all n extensions have been Ready, or every one that is
// not is Stalled, or the timeout passes, or the operator exits.
func (t *tracker) wait(ctx context.Context, start time.Time, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.NewTimer(time.Until(start.Add(timeout)))
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		ready, stalled := len(t.ready), 0
		for k, s := range t.stalls {
			if _, ok := t.ready[k]; s && !ok {
				stalled++
			}
		}
		t.mu.Unlock()
		switch {
		case ready >= t.n:
			return nil
		case stalled > 0 && ready+stalled >= t.n:
			return fmt.Errorf("%d of %d extensions are Stalled and will not become Ready", stalled, t.n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("the operator exited")
		case <-deadline.C:
			return fmt.Errorf("only %d of %d extensions Ready after %s", ready, t.n, timeout)
		case <-t.change:
		case <-tick.C:
		}
	}
}

func (t *tracker) readyTimes(start time.Time) []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]time.Duration, 0, len(t.ready))
	for _, at := range t.ready {
		out = append(out, at.Sub(start))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (t *tracker) notReadyReasons() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]int{}
	for k, r := range t.reason {
		if _, ok := t.ready[k]; !ok {
			out[r]++
		}
	}
	if missing := t.n - len(t.ready) - sumInts(out); missing > 0 {
		out["NoStatusYet"] += missing
	}
	return out
}

// notReadyNow counts extensions Ready once but not at their latest event.
func (t *tracker) notReadyNow() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	lost := 0
	for k := range t.ready {
		if !t.now[k] {
			lost++
		}
	}
	return lost
}

func (t *tracker) stop() {
	t.cancel()
	<-t.done
}

// ---- figures -------------------------------------------------------------------------------------

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
		cpu: b.usage.CPU - a.usage.CPU,
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

func (r *result) print(o options) {
	fmt.Printf("\n=== N=%d extensions over %d modules%s ===\n", r.n, r.modules, r.title())
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "  %s\t%s\n", k, fmt.Sprintf(format, args...)) }
	n := float64(r.n)
	row("operator flags", "%s%s", strings.Join(r.opArgs, " "), qpsNote(o))
	row("load average at start", "%s (%d CPUs, shared with the control plane and the bench)", r.loadStart, cpus())
	row("control plane start", "%s", dur(r.cpStart))
	row("API server warm-up", "%s for one WasmExtension create + delete before the operator started (not counted)", dur(r.warmup))
	row("create (bench client)", "%s for %d objects (QPS %d, burst %d, %d workers; latency p50 %s, max %s)", dur(r.created), r.n,
		benchClientQPS, benchClientBurst, min(o.creators, r.n), dur(pct(r.createLatency, 50)), dur(pct(r.createLatency, 100)))
	if r.allReady > 0 {
		row("apply → all Ready", "%s   (first %s, p50 %s, p90 %s; last Ready %s after the last create)", secs(r.allReady),
			secs(r.readyTimes[0]), secs(pct(r.readyTimes, 50)), secs(pct(r.readyTimes, 90)), secs(max(0, r.allReady-r.created)))
		row("", "the figures below cover apply → all Ready + %s until the operator went quiet", dur(r.settle))
	} else {
		row("apply → all Ready", "NOT ALL READY: %d of %d Ready; not Ready by reason: %v", len(r.readyTimes), r.n, r.notReady)
	}
	p := r.phase
	row("reconciles", "%.0f (%.2f /ext) by result: %s; workqueue_retries_total %.0f", sumAll(p.reconciles), sumAll(p.reconciles)/n, kv(p.reconciles), p.retries)
	row("API requests (operator)", "%.0f = %.2f /ext: reads %.0f (%.2f /ext), writes %.0f (%.2f /ext)",
		p.apiTotal(), p.apiTotal()/n, p.apiReads(), p.apiReads()/n, p.apiWrites(), p.apiWrites()/n)
	row("  by HTTP method", "%s   (client-go counts HTTP methods: GET = get, list and watch)", kv(p.apiByMethod))
	row("  writes, API server side", "%s", kv(p.apiServer))
	rg := p.registry
	row("registry requests", "%d: manifest HEAD %d, manifest GET %d, blob GET %d, blob HEAD %d, other %d",
		rg.Total, rg.ManifestHEAD, rg.ManifestGET, rg.BlobGET, rg.BlobHEAD, rg.Other)
	row("  per distinct digest", "%s", perDigest(r.regPerDigest))
	if r.verify {
		row("  signature-related", "%s", sigSplit(p, n))
		row("", "the module repositories also hold the signatures, so the per-digest line above counts both")
		row("Secret GETs (API server)", "%.0f (%.2f /ext): the key Secret, read uncached once per verification", p.secretGETs, p.secretGETs/n)
	}
	row("operator CPU", "%.2f s in the phase (%.1f ms /ext), %.2f s since it started", p.cpu.Seconds(), p.cpu.Seconds()*1000/n, r.sinceStart.CPU.Seconds())
	row("operator memory", "peak RSS %s (RSS now %s)", mib(r.sinceStart.PeakRSS), mib(r.sinceStart.RSS))
	if r.steadyDuration > 0 {
		s := r.steady
		row(fmt.Sprintf("steady state (%s)", r.steadyDuration), "API requests %.0f (writes %.0f) %s, registry requests %d, reconciles %.0f, CPU %.2f s",
			s.apiTotal(), s.apiWrites(), kv(s.apiByMethod), s.registry.Total, sumAll(s.reconciles), s.cpu.Seconds())
		if r.verify {
			row("  signature fetches", "%d (%s), Secret GETs %.0f, over %.0f reconciles (periodic resyncs%s)",
				s.sig.sig(), sigKinds(s.sig), s.secretGETs, sumAll(s.reconciles), intervalNote(r.interval))
		}
	}
	row("operator log", "%s", r.logFile)
	_ = tw.Flush()
}

func (r *result) title() string {
	if r.verify {
		return ", verification on"
	}
	return ""
}

func intervalNote(d time.Duration) string {
	if d > 0 {
		return fmt.Sprintf(", spec.module.interval %s", d)
	}
	return ", none expected: spec.module.interval is the operator's 10m default"
}

// sigKinds lists the signature requests by kind.
func sigKinds(c sigCounts) string {
	return fmt.Sprintf("referrers %d, bundle manifest GET %d / HEAD %d, bundle blob GET %d, .sig/referrers-tag %d",
		c.Referrers, c.ManifestGET, c.ManifestHD, c.BundleGET, c.LegacyTag)
}

func sigSplit(w window, n float64) string {
	mod := w.registry.Total - w.sig.sig()
	note := ""
	if w.sig.All != w.registry.Total {
		note = fmt.Sprintf("; NOTE the proxy saw %d requests, the registry %d", w.sig.All, w.registry.Total)
	}
	return fmt.Sprintf("%d (%.2f /ext): %s; the rest, %d (%.2f /ext), is the module's own (tag, manifest, blobs)%s",
		w.sig.sig(), float64(w.sig.sig())/n, sigKinds(w.sig), mod, float64(mod)/n, note)
}

// printVerification compares the verified run of one N with the unverified one.
func printVerification(off, on *result) {
	fmt.Printf("\n=== N=%d: verification cost (run with spec.verify minus run without) ===\n", on.n)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "  %s\t%s\n", k, fmt.Sprintf(format, args...)) }
	n := float64(on.n)
	p := on.phase
	row("signature requests (registry)", "%s", sigSplit(p, n))
	row("", "told apart by digest at a proxy in front of the registry: referrers API calls, GET/HEAD of the bundle")
	row("", "artifact manifests the bench pushed, GETs of their layers; a re-read of the module manifest for a")
	row("", "signature check cannot be told from the pull's own read, so it shows only in Δ registry below")
	row("Secret GETs", "%.0f (%.2f /ext; the operator reads the key Secret uncached, once per verification)", p.secretGETs, p.secretGETs/n)
	if off == nil {
		_ = tw.Flush()
		return
	}
	d := verifyDelta(off, on)
	row("Δ apply → all Ready", "%s", d.time)
	row("Δ operator CPU", "%+.1f ms /ext (%.1f → %.1f)", d.cpu, off.phase.cpu.Seconds()*1000/n, p.cpu.Seconds()*1000/n)
	row("Δ registry requests", "%+.2f /ext (%.2f → %.2f), of which signature %.2f /ext", d.reg,
		float64(off.phase.registry.Total)/n, float64(p.registry.Total)/n, float64(p.sig.sig()-off.phase.sig.sig())/n)
	row("Δ API requests", "%+.2f /ext: reads %+.2f /ext (%.2f → %.2f), writes %+.2f /ext; Secret GETs %+.2f /ext", d.api, d.reads,
		off.phase.apiReads()/n, p.apiReads()/n, (p.apiWrites()-off.phase.apiWrites())/n, (p.secretGETs-off.phase.secretGETs)/n)
	if on.steadyDuration > 0 {
		row("steady state", "%s", d.steady)
	}
	_ = tw.Flush()
}

// delta is the verification cost of one N, for the table and the summary.
type vdelta struct {
	time, steady, perResync string
	cpu, reg, api, reads    float64
}

func verifyDelta(off, on *result) vdelta {
	n := float64(on.n)
	d := vdelta{
		cpu:   (on.phase.cpu - off.phase.cpu).Seconds() * 1000 / n,
		reg:   float64(on.phase.registry.Total-off.phase.registry.Total) / n,
		api:   (on.phase.apiTotal() - off.phase.apiTotal()) / n,
		reads: (on.phase.apiReads() - off.phase.apiReads()) / n,
		time:  "n/a (not all Ready)", steady: "-", perResync: "-",
	}
	if on.allReady > 0 && off.allReady > 0 {
		dt := on.allReady - off.allReady
		d.time = fmt.Sprintf("%+.2f s (%.2f → %.2f s), %+.1f ms /ext", dt.Seconds(), off.allReady.Seconds(), on.allReady.Seconds(), float64(dt.Milliseconds())/n)
	}
	if on.steadyDuration > 0 {
		s := on.steady
		resyncs := sumAll(s.reconciles)
		if resyncs > 0 {
			d.perResync = fmt.Sprintf("%g", float64(s.sig.sig())/resyncs)
			d.steady = fmt.Sprintf("signature fetches per resync: %s   (%d signature fetches, %.0f Secret GETs over %.0f resync reconciles in %s)",
				d.perResync, s.sig.sig(), s.secretGETs, resyncs, on.steadyDuration)
		} else {
			d.perResync = "n/a"
			d.steady = fmt.Sprintf("signature fetches per resync: not measured, no resync in the %s window (%d signature fetches)%s",
				on.steadyDuration, s.sig.sig(), intervalNote(on.interval))
		}
	}
	return d
}

func summary(results []*result) {
	if len(results) == 0 {
		return
	}
	fmt.Printf("\n=== summary ===\n")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "N\tmodules\tverify\tall Ready (s)\tAPI req/ext\twrites/ext\tmanifest HEAD\tmanifest GET\tblob GET\tsig req\tCPU (s)\tpeak RSS\tsteady API req\tsteady registry\t")
	for _, r := range results {
		ready := "not all"
		if r.allReady > 0 {
			ready = fmt.Sprintf("%.2f", r.allReady.Seconds())
		}
		steadyAPI, steadyReg := "-", "-"
		if r.steadyDuration > 0 {
			steadyAPI = fmt.Sprintf("%.0f", r.steady.apiTotal())
			steadyReg = fmt.Sprint(r.steady.registry.Total)
		}
		n := float64(r.n)
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%.2f\t%.2f\t%d\t%d\t%d\t%d\t%.2f\t%s\t%s\t%s\t\n", r.n, r.modules, onOff(r.verify), ready,
			r.phase.apiTotal()/n, r.phase.apiWrites()/n, r.phase.registry.ManifestHEAD, r.phase.registry.ManifestGET,
			r.phase.registry.BlobGET, r.phase.sig.sig(), r.phase.cpu.Seconds(), mib(r.sinceStart.PeakRSS), steadyAPI, steadyReg)
	}
	_ = tw.Flush()

	var offs []*result
	var pairs [][2]*result
	for _, r := range results {
		if !r.verify {
			offs = append(offs, r)
		} else if len(offs) > 0 && offs[len(offs)-1].n == r.n {
			pairs = append(pairs, [2]*result{offs[len(offs)-1], r})
		}
	}
	if len(pairs) > 0 {
		fmt.Printf("\nverification cost per extension (spec.verify on minus off; key Secret, one bundle referrer per module):\n")
		tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "N\tΔ all Ready (s)\tΔ CPU ms/ext\tΔ registry req/ext\tsig req/ext\tΔ API reads/ext\tSecret GET/ext\tsteady sig fetches\tsig fetches/resync\t")
		for _, p := range pairs {
			off, on := p[0], p[1]
			d := verifyDelta(off, on)
			n := float64(on.n)
			dt, steadySig := "n/a", "-"
			if on.allReady > 0 && off.allReady > 0 {
				dt = fmt.Sprintf("%+.2f", (on.allReady - off.allReady).Seconds())
			}
			if on.steadyDuration > 0 {
				steadySig = fmt.Sprint(on.steady.sig.sig())
			}
			fmt.Fprintf(tw, "%d\t%s\t%+.1f\t%+.2f\t%.2f\t%+.2f\t%.2f\t%s\t%s\t\n", on.n, dt, d.cpu, d.reg,
				float64(on.phase.sig.sig())/n, d.reads, on.phase.secretGETs/n, steadySig, d.perResync)
		}
		_ = tw.Flush()
		for _, p := range pairs {
			if p[1].steadyDuration > 0 {
				fmt.Printf("  N=%d %s\n", p[1].n, verifyDelta(p[0], p[1]).steady)
			}
		}
	}

	fmt.Printf("\nvs Flux source-controller (product team's figures for this kind of machine; runs without verification):\n")
	for _, r := range results {
		if r.verify {
			continue
		}
		switch {
		case r.n == 1:
			fmt.Printf("  1 object Ready:          Flux %.1f s, wasmext %s\n", peerOneReady, readyOrNot(r))
		case r.n == peerManyN && r.modules == 20:
			fmt.Printf("  %d objects / 20 modules: Flux %.0f s, wasmext %s\n", r.n, peerManyReady, readyOrNot(r))
			fmt.Printf("  blob GETs for %d objects: Flux %d, wasmext %d\n", r.n, peerBlobGETs, r.phase.registry.BlobGET)
		default:
			fmt.Printf("  %d objects / %d modules: wasmext %s (Flux figures are for 1 and 500/20: not comparable; blob GETs %d vs Flux ~1 per object)\n",
				r.n, r.modules, readyOrNot(r), r.phase.registry.BlobGET)
		}
		fmt.Printf("  API requests per object (N=%d): Flux %.0f, wasmext %.2f\n", r.n, peerAPIPerObject, r.phase.apiTotal()/float64(r.n))
	}
}

func onOff(v bool) string {
	if v {
		return "on"
	}
	return "off"
}

func readyOrNot(r *result) string {
	if r.allReady == 0 {
		return "NOT ALL READY"
	}
	return fmt.Sprintf("%.2f s", r.allReady.Seconds())
}

func qpsNote(o options) string {
	if o.qps == 0 && o.burst == 0 {
		return "   (kube-api-qps/burst: operator defaults)"
	}
	return ""
}

func perDigest(cs []ocitest.Counts) string {
	if len(cs) == 0 {
		return "-"
	}
	field := func(name string, f func(ocitest.Counts) int64) string {
		lo, hi := f(cs[0]), f(cs[0])
		for _, c := range cs[1:] {
			lo, hi = min(lo, f(c)), max(hi, f(c))
		}
		if lo == hi {
			return fmt.Sprintf("%s %d", name, lo)
		}
		return fmt.Sprintf("%s %d..%d", name, lo, hi)
	}
	return fmt.Sprintf("%s, %s, %s   (min..max over %d digests)",
		field("manifest HEAD", func(c ocitest.Counts) int64 { return c.ManifestHEAD }),
		field("manifest GET", func(c ocitest.Counts) int64 { return c.ManifestGET }),
		field("blob GET", func(c ocitest.Counts) int64 { return c.BlobGET }), len(cs))
}

// ---- helpers -------------------------------------------------------------------------------------

func kv(m map[string]float64) string {
	if len(m) == 0 {
		return "(none)"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		name := k
		if name == "" {
			name = "?"
		}
		parts = append(parts, fmt.Sprintf("%s %.0f", name, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sumAll(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

func sumInts(m map[string]int) int {
	s := 0
	for _, v := range m {
		s += v
	}
	return s
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func dur(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func cpus() int { return goruntime.NumCPU() }

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
