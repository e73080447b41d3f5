package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/scheme"
	"github.com/wasmext/wasmext/internal/testenv"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
	"github.com/wasmext/wasmext/test/demo/operator"
)

// demo holds what has been started, for the report and the shutdown.
type demo struct {
	o     options
	start time.Time
	steps int
	step  int
	name  string

	root       string
	work       string
	binary     string     // bin/manager
	build      chan error // the result of building binary
	buildStart time.Time

	env      *testenv.Env
	reg      *registry
	op       *operator.Process
	c        client.Client
	created  []client.ObjectKey
	exts     []*v1alpha1.WasmExtension // Ready, after the last step
	keepWork bool
}

// step is one numbered step of the demo. run returns what the step's "ok"
// line reports.
type step struct {
	name, what string
	run        func(ctx context.Context) (string, error)
}

func (d *demo) stepList() []step {
	return []step{
		{"control plane", "starting kube-apiserver + etcd with the wasmext and Istio CRDs (envtest)", d.startControlPlane},
		{"registry", "starting an OCI registry", d.startRegistryStep},
		{"push module", "pushing the sample Proxy-Wasm module as a CNCF Wasm artifact", d.pushModule},
		{"operator", "building (go build -o bin/manager .) and starting the operator as a child process", d.startOperator},
		{"apply samples", "creating the WasmExtensions of " + rel(d.root, d.o.samples) + " in namespace default", d.applySamplesStep},
		{"wait Ready", fmt.Sprintf("waiting up to %s for condition Ready", d.o.timeout), d.waitReadyStep},
	}
}

func (d *demo) opLog() string { return filepath.Join(d.work, "operator.log") }

// run runs the steps in order, then prints the report.
func (d *demo) run(ctx context.Context) error {
	steps := d.stepList()
	d.steps = len(steps)
	for _, s := range steps {
		t := d.begin(s.name, s.what)
		msg, err := s.run(ctx)
		if err != nil {
			return err
		}
		d.done(t, "%s", msg)
	}
	return d.report(ctx, d.exts)
}

// begin announces step n.
func (d *demo) begin(name, what string) time.Time {
	d.step++
	d.name = name
	fmt.Printf("[%2d/%d] %-14s %s\n", d.step, d.steps, name, what)
	return time.Now()
}

// done reports the step that began at t.
func (d *demo) done(t time.Time, format string, args ...any) {
	fmt.Printf("       %-14s ok in %s: %s\n", "", since(t), fmt.Sprintf(format, args...))
}

// 1. Control plane.
func (d *demo) startControlPlane(context.Context) (string, error) {
	var skip []string
	for _, n := range strings.Split(d.o.skipCRDs, ",") {
		if n = strings.TrimSpace(n); n != "" {
			skip = append(skip, n)
		}
	}
	env, err := testenv.Start(testenv.Options{SkipIstioCRDs: skip})
	if err != nil {
		return "", err
	}
	d.env = env
	if d.c, err = newClient(env); err != nil {
		return "", err
	}
	skipped := ""
	if len(skip) > 0 {
		skipped = " (left out: " + strings.Join(skip, ", ") + ")"
	}
	return fmt.Sprintf("%s, %d CRDs%s", env.Config.Host, len(env.CRDs), skipped), nil
}

// 2. Registry.
func (d *demo) startRegistryStep(ctx context.Context) (string, error) {
	var err error
	if d.reg, err = d.startRegistry(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s at %s", d.reg.kind, d.reg.host), nil
}

// 3. Module.
func (d *demo) pushModule(ctx context.Context) (string, error) {
	dg, err := ocitest.Push(ctx, d.reg.host, sampleRepoTag, oci.FormatCNCF, wasmtest.ProxyWasm)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/%s = %s (%d bytes of Wasm)", d.reg.host, sampleRepoTag, dg, len(wasmtest.ProxyWasm)), nil
}

// 4. Operator.
func (d *demo) startOperator(ctx context.Context) (string, error) {
	var err error
	select {
	case err = <-d.build:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return "", err
	}
	built := since(d.buildStart)
	if d.op, err = operator.Start(ctx, operator.Options{
		Binary: d.binary, Kubeconfig: d.env.Kubeconfig, LogFile: d.opLog(),
		Args: []string{"--metrics-bind-address=0"},
	}); err != nil {
		return "", err
	}
	note := ""
	if !d.op.KubeconfigFlag {
		note = "; the binary has no --kubeconfig flag, KUBECONFIG is set instead"
	}
	return fmt.Sprintf("pid %d, /readyz OK at %s (built in %s, in parallel with step 1)%s", d.op.Pid, d.op.ProbeAddr, built, note), nil
}

// 5. Samples.
func (d *demo) applySamplesStep(ctx context.Context) (string, error) {
	waited, err := d.waitCRDSettled(ctx)
	if err != nil {
		return "", err
	}
	objs, err := d.applySamples(ctx)
	if err != nil {
		return "", err
	}
	if waited > 0 {
		objs = append(objs, fmt.Sprintf("(first waited %s: the API server holds creates for 2s after a CRD becomes Established)", dur(waited)))
	}
	return strings.Join(objs, " "), nil
}

// 6. Ready.
func (d *demo) waitReadyStep(ctx context.Context) (string, error) {
	var err error
	if d.exts, err = d.waitReady(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d/%d Ready (%s since the demo started)", len(d.exts), len(d.exts), since(d.start)), nil
}

func newClient(env *testenv.Env) (client.Client, error) {
	s, err := scheme.New()
	if err != nil {
		return nil, err
	}
	cfg := *env.Config
	cfg.QPS, cfg.Burst = 100, 200
	return client.New(&cfg, client.Options{Scheme: s})
}

func (d *demo) shutdown() error {
	var errs []error
	if d.op != nil {
		if err := d.op.Stop(10 * time.Second); err != nil {
			errs = append(errs, fmt.Errorf("operator: %w", err))
		}
	}
	d.reg.stop()
	if d.env != nil {
		if err := d.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("control plane: %w", err))
		}
	}
	if !d.keepWork && len(errs) == 0 {
		errs = append(errs, os.RemoveAll(d.work))
	} else if len(errs) > 0 && !d.keepWork {
		fmt.Fprintf(os.Stderr, "logs kept in %s\n", d.work)
	}
	return errors.Join(errs...)
}
