package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/scheme"
	"github.com/wasmext/wasmext/internal/testenv"
	"github.com/wasmext/wasmext/internal/testenv/proc"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
	"github.com/wasmext/wasmext/test/demo/operator"
)

const namespace = "manymodules"

// runner holds the parts of one measurement.
type runner struct {
	o      options
	reg    *ocitest.Registry
	images []string
	wasmMB float64
	env    *testenv.Env
	c      client.WithWatch
	op     *operator.Process
}

// result is what one run measured.
type result struct {
	args          []string
	pid           int
	idle, end     proc.Usage
	created       time.Duration
	allReady      time.Duration // 0: not all Ready
	ready, dryRun int
	notReady      map[string]int // reason -> count
	registry      ocitest.Counts
	wasmMB        float64
	logFile       string
}

// build builds the operator from this repository.
func build(ctx context.Context) (string, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "bin", "manager")
	t := time.Now()
	if err := operator.Build(ctx, root, bin); err != nil {
		return "", err
	}
	fmt.Printf("built %s in %s\n", bin, time.Since(t).Round(100*time.Millisecond))
	return bin, nil
}

// moduleWasm is module i: the Go wasip1 fixture with a custom section
// holding i, so that every module has its own digest.
func moduleWasm(i int) []byte {
	return wasmtest.AppendCustomSection(wasmtest.GoWASIP1, "wasmext-manymodules", fmt.Appendf(nil, "%d", i))
}

// pushModules starts the registry and pushes the modules.
func (x *runner) pushModules(ctx context.Context) error {
	var err error
	if x.reg, err = ocitest.StartRegistry(); err != nil {
		return err
	}
	var total int
	for i := range x.o.modules {
		w := moduleWasm(i)
		total += len(w)
		repoTag := fmt.Sprintf("manymodules/mod-%02d:1.0.0", i)
		if _, err := ocitest.Push(ctx, x.reg.Host, repoTag, oci.FormatCNCF, w); err != nil {
			return err
		}
		x.images = append(x.images, x.reg.Ref(repoTag))
	}
	x.wasmMB = float64(total) / 1e6
	fmt.Printf("pushed %d CNCF Wasm artifacts (%.1f MB of Wasm, %.2f MB each) to the in-process registry %s\n",
		len(x.images), x.wasmMB, x.wasmMB/float64(len(x.images)), x.reg.Host)
	return nil
}

func (x *runner) close() {
	if x.reg != nil {
		x.reg.Close()
	}
}

// measure starts the operator, applies one extension per module at once
// and waits until all are Ready.
func (x *runner) measure(ctx context.Context) (_ *result, err error) {
	s, err := scheme.New()
	if err != nil {
		return nil, err
	}
	cfg := *x.env.Config
	cfg.QPS, cfg.Burst = 1000, 2000
	if x.c, err = client.NewWithWatch(&cfg, client.Options{Scheme: s}); err != nil {
		return nil, err
	}
	if err := x.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return nil, err
	}
	r := &result{args: operatorArgs(x.o), wasmMB: x.wasmMB, logFile: filepath.Join(x.o.work, "operator.log")}
	fmt.Printf("starting operator %s ... ", x.o.binary)
	x.op, err = operator.Start(ctx, operator.Options{Binary: x.o.binary, Kubeconfig: x.env.Kubeconfig, LogFile: r.logFile, Args: r.args})
	if err != nil {
		return nil, err
	}
	defer func() {
		if stopErr := x.op.Stop(15 * time.Second); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping the operator: %w", stopErr))
		}
	}()
	r.pid = x.op.Pid
	if r.idle, err = proc.ReadUsage(r.pid); err != nil {
		return nil, err
	}
	fmt.Printf("ready (pid %d)\n", r.pid)
	return r, x.rollout(ctx, r)
}

// rollout creates the extensions and waits for all Ready, recording the
// figures in r.
func (x *runner) rollout(ctx context.Context, r *result) error {
	w, err := startWatch(ctx, x.c, len(x.images))
	if err != nil {
		return err
	}
	defer w.stop()
	x.reg.Reset()
	fmt.Printf("creating %d WasmExtensions ... ", len(x.images))
	start := time.Now()
	for i, image := range x.images {
		if err := x.c.Create(ctx, extension(i, image)); err != nil {
			return fmt.Errorf("creating extension %d: %w", i, err)
		}
	}
	r.created = time.Since(start)
	fmt.Printf("%s; waiting for Ready ... ", r.created.Round(time.Millisecond))
	waitErr := w.wait(ctx, x.o.timeout, x.op.Exited())
	if waitErr == nil {
		r.allReady = w.lastReady().Sub(start)
		fmt.Printf("all Ready after %s\n", r.allReady.Round(time.Millisecond))
	} else {
		fmt.Printf("%v\n", waitErr)
	}
	r.ready, r.dryRun, r.notReady = w.counts()
	r.registry = x.reg.Counts()
	var usageErr error
	r.end, usageErr = proc.ReadUsage(r.pid)
	return errors.Join(waitErr, usageErr)
}

// extension is extension i, for image; the plugin configuration is one the
// Go fixture accepts, so its dry run passes.
func extension(i int, image string) *v1alpha1.WasmExtension {
	return &v1alpha1.WasmExtension{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ext-%02d", i), Namespace: namespace},
		Spec: v1alpha1.WasmExtensionSpec{
			Module:       v1alpha1.ModuleSource{Image: image, Insecure: true},
			Selector:     &v1alpha1.WorkloadSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("app-%d", i)}},
			Phase:        v1alpha1.PhaseAuthn,
			PluginConfig: &apiextensionsv1.JSON{Raw: fmt.Appendf(nil, `{"header":"x-manymodules","value":"%d"}`, i)},
		},
	}
}
