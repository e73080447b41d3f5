// Command demo shows wasmext end to end on this machine, with real parts and
// no cluster: a real kube-apiserver and etcd (envtest, with the wasmext and
// Istio CRDs), a real OCI registry (the CNCF distribution registry built from
// its Go module, or the in-process test registry when that cannot be had),
// the operator as its own process, and the sample WasmExtension of
// config/samples. It ends printing the Ready extension, its Events and the
// WasmPlugin the operator rendered: delivery Cache, so its url is the
// operator's module server and its sha256 pins the verified bytes.
//
//	make demo            # or: go run ./test/demo
//	make demo KEEP=1     # or: go run ./test/demo -keep   (leave it running; Ctrl-C stops it)
//
// The files split the demo by concern: main.go (flags, signals, exit code),
// steps.go (the six steps and the shutdown), registry.go, samples.go
// (applying the samples and waiting for Ready), report.go (what is printed
// at the end) and format.go.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/wasmext/wasmext/internal/testenv"
	"github.com/wasmext/wasmext/internal/testenv/proc"
	"github.com/wasmext/wasmext/test/demo/operator"
)

// sampleHost is the registry host the samples name; the demo rewrites it to
// the registry it starts.
const sampleHost = "localhost:5000"

// sampleRepoTag is what the samples pull, pushed by the demo.
const sampleRepoTag = "wasmext/add-header:1.0.0"

type options struct {
	keep        bool
	registry    string
	registryBin string
	samples     string
	timeout     time.Duration
	skipCRDs    string
}

// parseFlags defines the demo's flags on fs, parses args and checks the
// values.
func parseFlags(fs *flag.FlagSet, args []string) (options, error) {
	o := options{}
	fs.BoolVar(&o.keep, "keep", false, "leave the control plane, registry and operator running after the demo; Ctrl-C stops them")
	fs.StringVar(&o.registry, "registry", "auto", "registry to use: distribution (the CNCF distribution registry binary), inprocess (the in-process test registry) or auto (distribution, falling back to inprocess)")
	fs.StringVar(&o.registryBin, "registry-bin", os.Getenv("WASMEXT_REGISTRY_BIN"), "CNCF distribution registry binary (default $WASMEXT_REGISTRY_BIN, else bin/registry, built with `make registry` when missing)")
	fs.StringVar(&o.samples, "samples", "", "directory of WasmExtension YAML files to apply (default config/samples)")
	fs.StringVar(&o.skipCRDs, "skip-istio-crds", "", "comma-separated Istio CRDs not to install, e.g. "+testenv.CRDTrafficExtension+
		" to play a cluster with Istio before 1.32, where output Auto renders a WasmPlugin")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "how long to wait for the extensions to become Ready")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.registry != "auto" && o.registry != "distribution" && o.registry != "inprocess" {
		return o, fmt.Errorf("-registry must be auto, distribution or inprocess, not %q", o.registry)
	}
	return o, nil
}

func main() {
	o, err := parseFlags(flag.CommandLine, os.Args[1:]) // flag.CommandLine exits on a parse error or -h
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctrllog.SetLogger(logr.Discard()) // envtest logs through it; our errors are returned
	os.Exit(run(o))
}

// run runs the demo and returns the exit code: 0, 1 when it failed, 130
// when it was interrupted.
func run(o options) (code int) {
	// Shut down cleanly (the control plane is not our child) on Ctrl-C, a closed
	// terminal or a closed pipe (`| head`): a write to it then fails instead of killing us.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	d, err := newDemo(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer func() {
		if err := d.shutdown(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: shutdown:", err)
			if code == 0 {
				code = 1
			}
		}
	}()

	fmt.Printf("wasmext demo: a WasmExtension becomes an Istio WasmPlugin that loads the verified module from the operator's cache\n")
	fmt.Printf("work dir %s (operator log: %s)\n\n", d.work, d.opLog())

	// The operator builds while the control plane starts.
	d.buildStart = time.Now()
	go func() { d.build <- operator.Build(ctx, d.root, d.binary) }()

	if err = d.run(ctx); err == nil {
		return 0
	}
	return d.failed(ctx, err)
}

// newDemo finds the repository and makes the work dir.
func newDemo(o options) (*demo, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	if o.samples == "" {
		o.samples = filepath.Join(root, "config", "samples")
	}
	d := &demo{o: o, start: time.Now(), root: root, binary: filepath.Join(root, "bin", "manager"), build: make(chan error, 1)}
	if d.work, err = os.MkdirTemp("", "wasmext-demo-"); err != nil {
		return nil, err
	}
	return d, nil
}

// failed reports err, which ended the demo, and returns the exit code.
func (d *demo) failed(ctx context.Context, err error) int {
	d.keepWork = true
	if ctx.Err() != nil {
		fmt.Fprintf(os.Stderr, "\ndemo: interrupted during step %d/%d (%s)\n", d.step, d.steps, d.name)
		return 130
	}
	fmt.Fprintf(os.Stderr, "\ndemo FAILED at step %d/%d (%s) after %s:\n  %v\n", d.step, d.steps, d.name, since(d.start), indent(err.Error()))
	if d.op != nil { // (a failed start quotes the log in its error)
		fmt.Fprintln(os.Stderr, d.op.Tail(40))
	}
	if d.reg != nil && d.reg.log != "" && d.step == 2 {
		fmt.Fprintln(os.Stderr, proc.Tail(d.reg.log, 20))
	}
	fmt.Fprintf(os.Stderr, "logs kept in %s\n", d.work)
	return 1
}
