// Command manymodules measures the operator's memory under many distinct,
// large modules: M modules of about 3 MB each (the Go wasip1 Proxy-Wasm
// fixture, each with its own custom section, so every digest is pulled,
// inspected, compiled and dry-run), one WasmExtension each, all applied at
// once. It reports the time until all are Ready (with the dry run passed)
// and the operator's peak RSS (VmHWM), against a 200 MiB goal. It prints
// figures; it asserts nothing.
//
//	go run ./test/bench/manymodules                   # 50 modules, as make bench runs it
//	go run ./test/bench/manymodules -binary /tmp/old  # an operator built elsewhere
//
// Parts, all real and local: a kube-apiserver + etcd (envtest), the
// in-process counting OCI registry of internal/oci/ocitest, and the
// operator built from this repository and run as a child process, so its
// memory is its own. Like config/manager, the operator keeps the modules it
// serves on disk (--module-cache-dir), not in memory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/wasmext/wasmext/internal/testenv"
)

// goalMiB is the peak RSS the operator should stay under.
const goalMiB = 200

type options struct {
	modules    int
	binary     string
	concurrent int
	timeout    time.Duration
	work       string
	memCache   bool
	args       string
}

func parseFlags(fs *flag.FlagSet, args []string) (options, error) {
	var o options
	fs.IntVar(&o.modules, "modules", 50, "distinct ~3 MB modules, one WasmExtension each, applied at once")
	fs.StringVar(&o.binary, "binary", "", "operator binary to run (default: build this repository into bin/manager)")
	fs.IntVar(&o.concurrent, "concurrent", 0, "operator --concurrent (0: the operator's default)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up waiting for all Ready after this long")
	fs.StringVar(&o.work, "workdir", "", "directory for the operator log and module cache (default: a new temp dir, kept)")
	fs.BoolVar(&o.memCache, "memory-cache", false, "keep served modules in memory (no --module-cache-dir), unlike config/manager")
	fs.StringVar(&o.args, "args", "", "further operator flags, space-separated")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.modules < 1 || o.concurrent < 0 {
		return o, errors.New("-modules must be positive and -concurrent not negative")
	}
	return o, nil
}

func main() {
	o, err := parseFlags(flag.CommandLine, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	signal.Ignore(syscall.SIGPIPE)
	ctrllog.SetLogger(logr.Discard()) // envtest logs through it; our errors are returned
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "\nmanymodules FAILED:", err)
		os.Exit(1)
	}
}

// operatorArgs are the operator's flags for this run.
func operatorArgs(o options) []string {
	args := []string{"--metrics-bind-address=0", "--zap-log-level=error"}
	if !o.memCache {
		args = append(args, "--module-cache-dir="+filepath.Join(o.work, "modules"))
	}
	if o.concurrent > 0 {
		args = append(args, "--concurrent="+strconv.Itoa(o.concurrent))
	}
	return append(args, strings.Fields(o.args)...)
}

func run(ctx context.Context, o options) (err error) {
	if o.work == "" {
		if o.work, err = os.MkdirTemp("", "wasmext-manymodules-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	if o.binary == "" {
		if o.binary, err = build(ctx); err != nil {
			return err
		}
	}
	fmt.Printf("wasmext manymodules: %d distinct modules, one WasmExtension each; work dir %s\n", o.modules, o.work)
	x := &runner{o: o}
	defer x.close()
	if err := x.pushModules(ctx); err != nil {
		return err
	}
	if x.env, err = testenv.Start(testenv.Options{}); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, x.env.Stop()) }()
	r, err := x.measure(ctx)
	if r != nil {
		r.print(o)
	}
	return err
}
