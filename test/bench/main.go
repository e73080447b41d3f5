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
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/opencontainers/go-digest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

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
	pprof      string        // directory for the operator's profiles (empty: none)
	memLimit   string        // GOMEMLIMIT of the operator (empty: none)
	nModules   []int         // with -peer: the modules of each -n entry ("N/M"; else -modules)
	peer       peerOptions   // -peer flux: the side-by-side comparison (flux.go)
}

// parseFlags defines the bench's flags on fs, parses args and checks and
// derives the values.
func parseFlags(fs *flag.FlagSet, args []string) (options, error) {
	o := options{}
	var ns string
	fs.StringVar(&ns, "n", "1,500", "comma-separated numbers of WasmExtensions, one run each")
	fs.IntVar(&o.modules, "modules", 20, "distinct modules (extension i uses module i % modules)")
	fs.DurationVar(&o.steady, "steady", 60*time.Second, "idle window measured after all extensions are Ready (0 skips it)")
	fs.IntVar(&o.concurrent, "concurrent", 16, "operator --concurrent (16, the operator's default); with -peer also the tuned Flux run's --concurrent")
	fs.Float64Var(&o.qps, "qps", 0, "operator --kube-api-qps (0: the operator's default)")
	fs.IntVar(&o.burst, "burst", 0, "operator --kube-api-burst (0: the operator's default)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up waiting for all Ready after this long")
	fs.IntVar(&o.namespaces, "namespaces", 1, "spread the extensions over this many namespaces")
	fs.IntVar(&o.creators, "creators", 16, "parallel creates by the bench client")
	fs.StringVar(&o.work, "workdir", "", "directory for the operator logs (default: a new temp dir, kept)")
	fs.BoolVar(&o.verify, "verify", true, "run each N twice, without and with cosign signature verification, and report the verification cost")
	fs.StringVar(&o.resync, "resync", "auto", "spec.module.interval of every extension: a duration, off (operator default, 10m), or auto (steady/2 with -verify, so the steady window holds resyncs; else off)")
	fs.StringVar(&o.memLimit, "gomemlimit", "", "GOMEMLIMIT of the operator, as the chart sets it from the container's memory limit (e.g. 150MiB; empty: none)")
	fs.StringVar(&o.pprof, "pprof", "", "directory for the operator's CPU profile of each rollout and its heap and allocs profiles after it: <N>[-verify]-{cpu,heap,allocs}.pprof (empty: none)")
	o.peer.bindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.modules < 1 || o.namespaces < 1 || o.creators < 1 || o.concurrent < 1 {
		return o, errors.New("-modules, -namespaces, -creators and -concurrent must be positive")
	}
	var err error
	if o.ns, o.nModules, err = parseNs(ns, o.modules, o.peer.name != ""); err != nil {
		return o, err
	}
	if err := o.peer.check(); err != nil {
		return o, err
	}
	o.interval, err = resyncInterval(o.resync, o.verify, o.steady)
	return o, err
}

// parseNs reads -n: comma-separated N, or with a peer also N/M (N objects
// over M modules; plain N uses -modules).
func parseNs(list string, modules int, peer bool) (ns, mods []int, _ error) {
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		nStr, mStr, hasM := strings.Cut(s, "/")
		n, err := strconv.Atoi(nStr)
		if err != nil || n < 1 {
			return nil, nil, fmt.Errorf("-n: %q is not a positive number", s)
		}
		m := modules
		if hasM {
			if !peer {
				return nil, nil, fmt.Errorf("-n: %q: N/M needs -peer", s)
			}
			if m, err = strconv.Atoi(mStr); err != nil || m < 1 {
				return nil, nil, fmt.Errorf("-n: %q: M is not a positive number", s)
			}
		}
		ns, mods = append(ns, n), append(mods, m)
	}
	return ns, mods, nil
}

// resyncInterval is the spec.module.interval that -resync asks for (0:
// unset).
func resyncInterval(resync string, verify bool, steady time.Duration) (time.Duration, error) {
	switch resync {
	case "off":
		return 0, nil
	case "auto":
		if verify && steady > 0 {
			return max(minInterval, (steady / 2).Round(time.Second)), nil
		}
		return 0, nil
	}
	d, err := time.ParseDuration(resync)
	if err != nil || d < minInterval {
		return 0, fmt.Errorf("-resync: %q is not auto, off or a duration of at least %s (the API's minimum)", resync, minInterval)
	}
	return d, nil
}

// minInterval is the smallest spec.module.interval the API admits.
const minInterval = 10 * time.Second

func main() {
	o, err := parseFlags(flag.CommandLine, os.Args[1:]) // flag.CommandLine exits on a parse error or -h
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
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

// bench is what all runs share: the operator binary, the registry, the
// proxy in front of it and the modules pushed to it.
type bench struct {
	o      options
	binary string
	reg    *ocitest.Registry
	proxy  *sigProxy
	mods   []module
	modes  []runMode
	envs   *envPlan // with -peer: the control planes ahead (nil: each run starts its own)
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
	if o.pprof != "" {
		if err := os.MkdirAll(o.pprof, 0o755); err != nil {
			return err
		}
	}
	if o.peer.name != "" {
		o.modules = slices.Max(o.nModules) // pushed once; each N uses the first M
	}
	fmt.Printf("wasmext bench: N=%v extensions over %d modules; %d CPUs; logs in %s\n", o.ns, o.modules, cpus(), o.work)

	b := &bench{o: o, binary: filepath.Join(root, "bin", "manager")}
	t := time.Now()
	if err := operator.Build(ctx, root, b.binary); err != nil {
		return err
	}
	fmt.Printf("built %s in %s\n", rel(root, b.binary), dur(time.Since(t)))
	defer b.close()
	if err := b.prepare(ctx); err != nil {
		return err
	}
	if o.peer.name != "" {
		return b.runPeer(ctx)
	}
	results, err := b.runAll(ctx)
	if err != nil {
		return err
	}
	summary(results)
	return nil
}

// prepare starts the registry and the proxy, pushes the modules and, with
// -verify, signs them.
func (b *bench) prepare(ctx context.Context) error {
	var err error
	if b.reg, err = ocitest.StartRegistry(); err != nil {
		return err
	}
	// The operator talks to the registry through a counting proxy that tells
	// signature artifacts apart by digest; pushes and signing go direct.
	if b.proxy, err = startSigProxy(b.reg.Host); err != nil {
		return err
	}
	b.mods = make([]module, b.o.modules)
	for i := range b.mods {
		m := &b.mods[i]
		m.repo = fmt.Sprintf("bench/mod-%02d", i)
		m.image = b.proxy.Host + "/" + m.repo + ":1.0.0"
		if m.digest, err = ocitest.Push(ctx, b.reg.Host, m.repo+":1.0.0", oci.FormatCNCF, wasmtest.Variant(i)); err != nil {
			return err
		}
	}
	fmt.Printf("pushed %d CNCF Wasm artifacts to the in-process registry %s (one repository each, tag 1.0.0); the operator reaches it through the counting proxy %s\n", len(b.mods), b.reg.Host, b.proxy.Host)
	b.modes = []runMode{{}}
	if b.o.verify {
		pub, err := signModules(ctx, b.reg.Host, b.proxy, b.mods)
		if err != nil {
			return err
		}
		b.modes = append(b.modes, runMode{verify: true, pub: pub})
		runs := "-verify runs each N twice: verification off, then on"
		if b.o.peer.name != "" {
			runs = "with -peer every system verifies (Flux: spec.verify.provider cosign, secretRef the same Secret)"
		}
		fmt.Printf("signed each module once with one new ECDSA P-256 key (sigstore bundle as an OCI referrer); %s (Secret %s in each namespace, spec.verify.cosign.publicKeySecretRef on every extension)\n", runs, keySecretName)
	}
	if b.o.interval > 0 {
		fmt.Printf("every extension has spec.module.interval %s (-resync), so the steady window holds periodic resyncs\n", b.o.interval)
	}
	fmt.Printf("each run has a fresh control plane and a freshly started operator; the registry is shared, its counts reset per run\n")
	return nil
}

// runAll runs every N in every mode, printing each result as it comes.
func (b *bench) runAll(ctx context.Context) ([]*result, error) {
	var results []*result
	for _, n := range b.o.ns {
		var off *result
		for _, mode := range b.modes {
			r, err := b.runOne(ctx, n, mode)
			if r != nil {
				r.print(b.o)
				results = append(results, r)
				if !mode.verify {
					off = r
				} else {
					printVerification(off, r)
				}
			}
			if err != nil {
				return results, fmt.Errorf("N=%d%s: %w", n, mode.label(), err)
			}
		}
	}
	return results, nil
}

func (b *bench) close() {
	if b.proxy != nil {
		b.proxy.Close()
	}
	if b.reg != nil {
		b.reg.Close()
	}
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
