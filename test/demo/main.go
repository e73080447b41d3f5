// Command demo shows wasmext end to end on this machine, with real parts and
// no cluster: a real kube-apiserver and etcd (envtest, with the wasmext and
// Istio CRDs), a real OCI registry (the CNCF distribution registry built from
// its Go module, or the in-process test registry when that cannot be had),
// the operator as its own process, and the sample WasmExtension of
// config/samples. It ends printing the Ready extension, its Events and the
// digest-pinned WasmPlugin the operator rendered.
//
//	make demo            # or: go run ./test/demo
//	make demo KEEP=1     # or: go run ./test/demo -keep   (leave it running; Ctrl-C stops it)
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/testenv"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
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

func main() {
	o := options{}
	flag.BoolVar(&o.keep, "keep", false, "leave the control plane, registry and operator running after the demo; Ctrl-C stops them")
	flag.StringVar(&o.registry, "registry", "auto", "registry to use: distribution (the CNCF distribution registry binary), inprocess (the in-process test registry) or auto (distribution, falling back to inprocess)")
	flag.StringVar(&o.registryBin, "registry-bin", os.Getenv("WASMEXT_REGISTRY_BIN"), "CNCF distribution registry binary (default $WASMEXT_REGISTRY_BIN, else bin/registry, built with `make registry` when missing)")
	flag.StringVar(&o.samples, "samples", "", "directory of WasmExtension YAML files to apply (default config/samples)")
	flag.StringVar(&o.skipCRDs, "skip-istio-crds", "", "comma-separated Istio CRDs not to install, e.g. "+testenv.CRDTrafficExtension+
		" to play a cluster with Istio before 1.32, where output Auto renders a WasmPlugin")
	flag.DurationVar(&o.timeout, "timeout", 60*time.Second, "how long to wait for the extensions to become Ready")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard()) // envtest logs through it; our errors are returned
	if o.registry != "auto" && o.registry != "distribution" && o.registry != "inprocess" {
		fmt.Fprintf(os.Stderr, "-registry must be auto, distribution or inprocess, not %q\n", o.registry)
		os.Exit(2)
	}
	os.Exit(run(o))
}

// demo holds what has been started, for the report and the shutdown.
type demo struct {
	o     options
	start time.Time
	steps int
	step  int
	name  string

	root     string
	work     string
	env      *testenv.Env
	reg      *registry
	op       *operator.Process
	c        client.Client
	created  []client.ObjectKey
	keepWork bool
}

func run(o options) (code int) {
	// Shut down cleanly (the control plane is not our child) on Ctrl-C, a closed
	// terminal or a closed pipe (`| head`): a write to it then fails instead of killing us.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	d := &demo{o: o, start: time.Now(), steps: 6}
	root, err := testenv.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	d.root = root
	if d.o.samples == "" {
		d.o.samples = filepath.Join(root, "config", "samples")
	}
	if d.work, err = os.MkdirTemp("", "wasmext-demo-"); err != nil {
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

	fmt.Printf("wasmext demo: a WasmExtension becomes a digest-pinned Istio WasmPlugin\n")
	fmt.Printf("work dir %s (operator log: %s)\n\n", d.work, d.opLog())

	// The operator builds while the control plane starts.
	build := make(chan error, 1)
	binary := filepath.Join(root, "bin", "manager")
	buildStart := time.Now()
	go func() { build <- operator.Build(ctx, root, binary) }()

	err = d.run(ctx, binary, build, buildStart)
	if err == nil {
		return 0
	}
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
		fmt.Fprintln(os.Stderr, operator.Tail(d.reg.log, 20))
	}
	fmt.Fprintf(os.Stderr, "logs kept in %s\n", d.work)
	return 1
}

func (d *demo) opLog() string { return filepath.Join(d.work, "operator.log") }

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

func (d *demo) run(ctx context.Context, binary string, build <-chan error, buildStart time.Time) error {
	// 1. Control plane.
	t := d.begin("control plane", "starting kube-apiserver + etcd with the wasmext and Istio CRDs (envtest)")
	var skip []string
	for _, n := range strings.Split(d.o.skipCRDs, ",") {
		if n = strings.TrimSpace(n); n != "" {
			skip = append(skip, n)
		}
	}
	env, err := testenv.Start(testenv.Options{SkipIstioCRDs: skip})
	if err != nil {
		return err
	}
	d.env = env
	if d.c, err = newClient(env); err != nil {
		return err
	}
	skipped := ""
	if len(skip) > 0 {
		skipped = " (left out: " + strings.Join(skip, ", ") + ")"
	}
	d.done(t, "%s, %d CRDs%s", env.Config.Host, len(env.CRDs), skipped)

	// 2. Registry.
	t = d.begin("registry", "starting an OCI registry")
	if d.reg, err = d.startRegistry(ctx); err != nil {
		return err
	}
	d.done(t, "%s at %s", d.reg.kind, d.reg.host)

	// 3. Module.
	t = d.begin("push module", "pushing the sample Proxy-Wasm module as a CNCF Wasm artifact")
	dg, err := ocitest.Push(ctx, d.reg.host, sampleRepoTag, oci.FormatCNCF, wasmtest.ProxyWasm)
	if err != nil {
		return err
	}
	d.done(t, "%s/%s = %s (%d bytes of Wasm)", d.reg.host, sampleRepoTag, dg, len(wasmtest.ProxyWasm))

	// 4. Operator.
	t = d.begin("operator", "building (go build -o bin/manager .) and starting the operator as a child process")
	select {
	case err = <-build:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return err
	}
	built := since(buildStart)
	if d.op, err = operator.Start(ctx, operator.Options{
		Binary: binary, Kubeconfig: d.env.Kubeconfig, LogFile: d.opLog(),
		Args: []string{"--metrics-bind-address=0"},
	}); err != nil {
		return err
	}
	note := ""
	if !d.op.KubeconfigFlag {
		note = "; the binary has no --kubeconfig flag, KUBECONFIG is set instead"
	}
	d.done(t, "pid %d, /readyz OK at %s (built in %s, in parallel with step 1)%s", d.op.Pid, d.op.ProbeAddr, built, note)

	// 5. Samples.
	t = d.begin("apply samples", "creating the WasmExtensions of "+rel(d.root, d.o.samples)+" in namespace default")
	waited, err := d.waitCRDSettled(ctx)
	if err != nil {
		return err
	}
	objs, err := d.applySamples(ctx)
	if err != nil {
		return err
	}
	if waited > 0 {
		objs = append(objs, fmt.Sprintf("(first waited %s: the API server holds creates for 2s after a CRD becomes Established)", dur(waited)))
	}
	d.done(t, "%s", strings.Join(objs, " "))

	// 6. Ready.
	t = d.begin("wait Ready", fmt.Sprintf("waiting up to %s for condition Ready", d.o.timeout))
	exts, err := d.waitReady(ctx)
	if err != nil {
		return err
	}
	d.done(t, "%d/%d Ready (%s since the demo started)", len(exts), len(exts), since(d.start))

	return d.report(ctx, exts)
}

func newClient(env *testenv.Env) (client.Client, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, clientext.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	cfg := *env.Config
	cfg.QPS, cfg.Burst = 100, 200
	return client.New(&cfg, client.Options{Scheme: s})
}

// ---- registry ------------------------------------------------------------------------------------

type registry struct {
	kind string // what runs, for the log
	host string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	mem  *ocitest.Registry
}

func (d *demo) startRegistry(ctx context.Context) (*registry, error) {
	if d.o.registry == "inprocess" {
		return startInProcess("in-process test registry (-registry=inprocess)")
	}
	bin, err := d.registryBinary(ctx)
	if err == nil {
		var r *registry
		if r, err = d.startDistribution(ctx, bin); err == nil {
			return r, nil
		}
	}
	if d.o.registry == "distribution" || ctx.Err() != nil {
		return nil, err
	}
	fmt.Printf("       %-14s the CNCF distribution registry is not available (%s);\n", "", firstLine(err))
	fmt.Printf("       %-14s falling back to the in-process test registry\n", "")
	return startInProcess("in-process test registry (fallback: the distribution registry could not be started)")
}

func startInProcess(kind string) (*registry, error) {
	mem, err := ocitest.StartRegistry()
	if err != nil {
		return nil, err
	}
	return &registry{kind: kind, host: mem.Host, mem: mem}, nil
}

// registryBinary returns the distribution registry binary, building it with
// `make registry` when it is missing.
func (d *demo) registryBinary(ctx context.Context) (string, error) {
	bin := d.o.registryBin
	if bin == "" {
		bin = filepath.Join(d.root, "bin", "registry")
	}
	if isExecutable(bin) {
		return bin, nil
	}
	if d.o.registryBin != "" && d.o.registryBin != filepath.Join(d.root, "bin", "registry") {
		return "", fmt.Errorf("%s is not an executable file", bin)
	}
	fmt.Printf("       %-14s %s is missing; building it from its Go module (make registry; a few minutes the first time)\n", "", rel(d.root, bin))
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "registry")
	cmd.Dir = d.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make registry: %w: %s", err, lastLines(string(out), 5))
	}
	if !isExecutable(bin) {
		return "", fmt.Errorf("make registry did not produce %s", bin)
	}
	return bin, nil
}

// startDistribution runs `registry serve` with filesystem storage in the work
// dir, plain HTTP on a free loopback port and no auth, and waits for /v2/.
func (d *demo) startDistribution(ctx context.Context, bin string) (*registry, error) {
	addr, err := operator.FreeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(d.work, "registry")
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o755); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: %s
`, filepath.Join(dir, "storage"), addr, rand.Text())
	confPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	r := &registry{host: addr, log: filepath.Join(d.work, "registry.log"), done: make(chan struct{})}
	logf, err := os.Create(r.log)
	if err != nil {
		return nil, err
	}
	r.cmd = exec.Command(bin, "serve", confPath)
	// No trace exporter: nothing to send traces to, and no noise about it.
	r.cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { _ = r.cmd.Wait(); _ = logf.Close(); close(r.done) }()
	r.kind = "CNCF distribution registry " + registryVersion(ctx, bin) + " (" + rel(d.root, bin) + ", filesystem storage, plain HTTP)"

	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := hc.Get("http://" + addr + "/v2/"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r, nil
			}
		}
		select {
		case <-r.done:
			return nil, fmt.Errorf("%s exited at start; see %s\n%s", bin, r.log, operator.Tail(r.log, 10))
		case <-ctx.Done():
			r.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("%s did not answer /v2/ at %s within 30s; see %s", bin, addr, r.log)
		}
	}
}

func registryVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out)) // "registry github.com/distribution/distribution/v3 v3.1.2"
	for _, s := range f {
		if strings.HasPrefix(s, "v") && strings.Count(s, ".") >= 2 {
			return s
		}
	}
	return ""
}

func (r *registry) stop() {
	switch {
	case r == nil:
	case r.mem != nil:
		r.mem.Close()
	case r.cmd != nil && r.cmd.Process != nil:
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
		}
	}
}

// ---- samples -------------------------------------------------------------------------------------

// applySamples creates every object of the YAML files in the samples
// directory (kustomization.yaml aside) in namespace default, with the sample
// registry host replaced by the demo's.
func (d *demo) applySamples(ctx context.Context) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(d.o.samples, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		raw = bytes.ReplaceAll(raw, []byte(sampleHost), []byte(d.reg.host))
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			if u.GetNamespace() == "" {
				u.SetNamespace("default")
			}
			if err := d.c.Create(ctx, u); err != nil {
				return nil, fmt.Errorf("creating %s %s/%s from %s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), rel(d.root, f), err)
			}
			if u.GetKind() == "WasmExtension" {
				d.created = append(d.created, client.ObjectKeyFromObject(u))
			}
			img, _, _ := unstructured.NestedString(u.Object, "spec", "module", "image")
			names = append(names, fmt.Sprintf("%s %s/%s (image %s)", u.GetKind(), u.GetNamespace(), u.GetName(), img))
		}
	}
	if len(d.created) == 0 {
		return nil, fmt.Errorf("no WasmExtension in %s", d.o.samples)
	}
	return names, nil
}

// waitCRDSettled waits until the WasmExtension CRD has been Established for
// 3s: the API server makes every create of a custom resource sleep 2s while
// its CRD is less than 2s established (the condition's time has a resolution
// of 1s), which would show up as the operator's time.
func (d *demo) waitCRDSettled(ctx context.Context) (time.Duration, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := d.c.Get(ctx, client.ObjectKey{Name: "wasmextensions." + v1alpha1.GroupVersion.Group}, crd); err != nil {
		return 0, fmt.Errorf("reading the WasmExtension CRD: %w", err)
	}
	for _, c := range crd.Status.Conditions {
		if c.Type != apiextensionsv1.Established || c.Status != apiextensionsv1.ConditionTrue {
			continue
		}
		wait := time.Until(c.LastTransitionTime.Add(3 * time.Second))
		if wait <= 0 {
			return 0, nil
		}
		select {
		case <-time.After(wait):
			return wait, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return 0, nil
}

// waitReady polls the created extensions until all are Ready for their
// current generation. A Stalled extension fails at once: it needs a person.
func (d *demo) waitReady(ctx context.Context) ([]*v1alpha1.WasmExtension, error) {
	deadline := time.Now().Add(d.o.timeout)
	for {
		var exts []*v1alpha1.WasmExtension
		ready := 0
		for _, k := range d.created {
			ext := &v1alpha1.WasmExtension{}
			if err := d.c.Get(ctx, k, ext); err != nil {
				return nil, err
			}
			exts = append(exts, ext)
			if isReady(ext) {
				ready++
			}
			if c := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
				return nil, fmt.Errorf("WasmExtension %s is Stalled: %s: %s\n%s", k, c.Reason, c.Message, strings.TrimRight(conditionsTable(ext), "\n"))
			}
		}
		if ready == len(exts) {
			return exts, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-d.op.Exited():
			return nil, errors.New("the operator exited")
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, ext := range exts {
				fmt.Fprintf(&b, "WasmExtension %s/%s:\n%s", ext.Namespace, ext.Name, conditionsTable(ext))
			}
			return nil, fmt.Errorf("%d of %d WasmExtensions not Ready after %s\n%s", len(exts)-ready, len(exts), d.o.timeout, b.String())
		}
	}
}

func isReady(ext *v1alpha1.WasmExtension) bool {
	c := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == ext.Generation &&
		ext.Status.ObservedGeneration == ext.Generation
}

// ---- report --------------------------------------------------------------------------------------

func (d *demo) report(ctx context.Context, exts []*v1alpha1.WasmExtension) error {
	section("WasmExtensions (kubectl get wasmextensions -A -o wide)")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tIMAGE\tDIGEST\tREADY\tREASON\tAGE")
	for _, ext := range exts {
		ready := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady)
		digest := ""
		if ext.Status.Module != nil {
			digest = ext.Status.Module.Digest
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ext.Namespace, ext.Name, ext.Spec.Module.Image, digest,
			ready.Status, ready.Reason, age(ext.CreationTimestamp.Time))
	}
	_ = tw.Flush()

	for _, ext := range exts {
		section(fmt.Sprintf("Status of WasmExtension %s/%s", ext.Namespace, ext.Name))
		if m := ext.Status.Module; m != nil {
			fmt.Printf("module:   %s@%s\n", m.Repository, m.Digest)
			fmt.Printf("          format %s, %d bytes, sha256 %s, ABI %s\n", m.Format, m.Size, m.SHA256, m.ABI)
		}
		for _, r := range ext.Status.Rendered {
			fmt.Printf("rendered: %s %s/%s\n", r.Kind, ext.Namespace, r.Name)
		}
		fmt.Printf("observedGeneration: %d (generation %d)\n\n", ext.Status.ObservedGeneration, ext.Generation)
		fmt.Print(conditionsTable(ext))

		section(fmt.Sprintf("Events of WasmExtension %s/%s", ext.Namespace, ext.Name))
		if err := d.printEvents(ctx, ext); err != nil {
			return err
		}

		for _, r := range ext.Status.Rendered {
			section(fmt.Sprintf("Rendered %s %s/%s (kubectl get %s %s -o yaml, managedFields left out)",
				r.Kind, ext.Namespace, r.Name, strings.ToLower(r.Kind), r.Name))
			u := &unstructured.Unstructured{}
			u.SetAPIVersion(r.APIVersion)
			u.SetKind(r.Kind)
			if err := d.c.Get(ctx, client.ObjectKey{Namespace: ext.Namespace, Name: r.Name}, u); err != nil {
				return fmt.Errorf("reading rendered %s %s: %w", r.Kind, r.Name, err)
			}
			unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
			y, err := yaml.Marshal(u.Object)
			if err != nil {
				return err
			}
			fmt.Print(string(y))
			urls := moduleURLs(u.Object["spec"], "spec")
			if len(urls) == 0 {
				return fmt.Errorf("rendered %s %s names no module URL", r.Kind, r.Name)
			}
			for _, mu := range urls {
				fmt.Printf("\n=> %s %s is %s\n", mu.path, mu.url, mu.pinning())
				if mu.pinning() == "" {
					return fmt.Errorf("rendered %s %s has %s %q, which is not pinned", r.Kind, r.Name, mu.path, mu.url)
				}
			}
		}
	}
	fmt.Printf("\nThe demo took %s.\n", since(d.start))
	if !d.o.keep {
		return nil
	}
	section("Left running (-keep); Ctrl-C stops everything")
	fmt.Printf("kubeconfig:   %s\n", d.env.Kubeconfig)
	fmt.Printf("registry:     %s (%s)\n", d.reg.host, d.reg.kind)
	fmt.Printf("operator:     pid %d, log %s\n", d.op.Pid, d.opLog())
	fmt.Printf("\n  kubectl --kubeconfig %s get wasmextensions -A\n", d.env.Kubeconfig)
	fmt.Printf("  kubectl --kubeconfig %s get wasmplugins -A -o yaml\n\n", d.env.Kubeconfig)
	select {
	case <-ctx.Done():
		fmt.Println("\nstopping")
	case <-d.op.Exited():
		return fmt.Errorf("the operator exited\n%s", d.op.Tail(20))
	}
	return nil
}

// moduleURL is a URL found in a rendered object's spec.
type moduleURL struct {
	path, url, sha256 string
}

// pinning says how the URL is pinned: by manifest digest (oci://…@sha256:…)
// or by a SHA-256 next to it (http(s)://…); "" when it is not.
func (m moduleURL) pinning() string {
	switch {
	case strings.HasPrefix(m.url, "oci://") && strings.Contains(m.url, "@sha256:"):
		return "digest-pinned"
	case m.sha256 != "":
		return "pinned by sha256 " + m.sha256
	}
	return ""
}

// moduleURLs finds the fields named url or uri (WasmPlugin spec.url,
// TrafficExtension spec.wasm.url, an EnvoyFilter's remote http_uri.uri) and
// the sha256 beside them or their parent.
func moduleURLs(v any, path string) []moduleURL {
	var out []moduleURL
	switch t := v.(type) {
	case map[string]any:
		for _, k := range []string{"url", "uri"} {
			if s, ok := t[k].(string); ok && strings.Contains(s, "://") {
				out = append(out, moduleURL{path: path + "." + k, url: s})
			}
		}
		for k, c := range t {
			out = append(out, moduleURLs(c, path+"."+k)...)
		}
		if sha, ok := t["sha256"].(string); ok && sha != "" {
			for i := range out {
				if out[i].sha256 == "" {
					out[i].sha256 = sha
				}
			}
		}
	case []any:
		for i, c := range t {
			out = append(out, moduleURLs(c, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// printEvents lists the events.k8s.io Events about ext, waiting a moment for
// those the operator's event broadcaster has not sent yet.
func (d *demo) printEvents(ctx context.Context, ext *v1alpha1.WasmExtension) error {
	var evs []eventsv1.Event
	for deadline, last := time.Now().Add(3*time.Second), -1; ; {
		var list eventsv1.EventList
		if err := d.c.List(ctx, &list, client.InNamespace(ext.Namespace)); err != nil {
			return fmt.Errorf("listing Events: %w", err)
		}
		evs = evs[:0]
		for _, e := range list.Items {
			if e.Regarding.UID == ext.UID {
				evs = append(evs, e)
			}
		}
		// Stop once the Events stopped changing and a fetch and an apply are in.
		if len(evs) == last && len(evs) >= 2 || time.Now().After(deadline) {
			break
		}
		last = len(evs)
		time.Sleep(300 * time.Millisecond)
	}
	sort.Slice(evs, func(i, j int) bool { return eventTime(evs[i]).Before(eventTime(evs[j])) })
	if len(evs) == 0 {
		fmt.Println("(no Events)")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tREASON\tACTION\tAGE\tFROM\tMESSAGE")
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, e.Action, age(eventTime(e)), e.ReportingController, e.Note)
	}
	_ = tw.Flush()
	return nil
}

func eventTime(e eventsv1.Event) time.Time {
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func conditionsTable(ext *v1alpha1.WasmExtension) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "CONDITION\tSTATUS\tREASON\tAGE\tMESSAGE")
	for _, c := range ext.Status.Conditions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, age(c.LastTransitionTime.Time), c.Message)
	}
	_ = tw.Flush()
	if len(ext.Status.Conditions) == 0 {
		return "(no conditions yet)\n"
	}
	return b.String()
}

// ---- shutdown ------------------------------------------------------------------------------------

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

// ---- helpers -------------------------------------------------------------------------------------

func section(title string) {
	fmt.Printf("\n── %s %s\n", title, strings.Repeat("─", max(3, 96-len([]rune(title)))))
}

func since(t time.Time) string { return dur(time.Since(t)) }

func dur(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String()
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n  ")
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }
