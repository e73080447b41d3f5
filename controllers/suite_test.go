package controllers

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/cache"
	"github.com/wasmext/wasmext/internal/eventqueue"
	"github.com/wasmext/wasmext/internal/httpsource"
	"github.com/wasmext/wasmext/internal/metrics"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/policy"
	"github.com/wasmext/wasmext/internal/sandbox"
	"github.com/wasmext/wasmext/internal/scheme"
	"github.com/wasmext/wasmext/internal/testenv"
)

// The suite runs the reconciler in a real manager against a real
// kube-apiserver and etcd (envtest) with our CRD and Istio's real CRDs, and
// real in-process OCI registries created per test.
var (
	k8s        client.Client // the test's own client (not counted)
	reconciler *WasmExtensionReconciler
	writes     writeCounter // API writes made by the operator, per namespace
	// moduleServer serves verified modules as the operator does (for
	// output EnvoyFilter), at moduleServerURL.
	moduleServer    *cache.Server
	moduleServerURL string
	testScheme      *runtime.Scheme
	testConfig      *rest.Config // the test's own access (not counted)
)

const waitFor = 30 * time.Second

// suiteModuleKey is the module URL key every replica of the suite shares.
var suiteModuleKey = cache.Key("suite-module-url-key-0123456789abcdef")

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	var err error
	if testScheme, err = scheme.New(); err != nil {
		panic(err)
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	// The TrafficExtension CRD is installed by TestOutputAuto, to see Auto
	// switch when the cluster starts serving it.
	env, err := testenv.Start(testenv.Options{SkipIstioCRDs: []string{"trafficextensions.extensions.istio.io"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := startManager(ctx, env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func startManager(ctx context.Context, env *testenv.Env) error {
	var err error
	testConfig = env.Config
	if k8s, err = client.New(env.Config, client.Options{Scheme: testScheme}); err != nil {
		return err
	}
	served, err := ServedAtStart(env.Config)
	if err != nil {
		return err
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(writes.transport)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 testScheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  CacheOptions(served, nil),
	})
	if err != nil {
		return err
	}
	fetcher := oci.NewFetcher(oci.Options{MaxModuleSize: 4 << 20, WrapTransport: metrics.Transport})
	moduleServer = &cache.Server{Store: cache.NewStore(64 << 20), Key: suiteModuleKey, Grace: cache.DefaultGrace}
	moduleHTTP := httptest.NewServer(moduleServer)
	moduleServerURL = moduleHTTP.URL
	// As main.go: Normal Events queued and sent apart (here fast).
	events := eventqueue.New(mgr.GetEventRecorder("wasmext"), mgr.GetScheme(), eventqueue.Options{QPS: 1000, Burst: 1000})
	if err := mgr.Add(events); err != nil {
		return err
	}
	reconciler = &WasmExtensionReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  countingRecorder{EventRecorder: events, n: &writes},
		Resolver:  fetcher,
		Loader: module.NewLoader(fetcher, 64).KeepBytes(func(sha string, b []byte) {
			_ = moduleServer.Put(sha, b)
		}).WithHTTP(httpsource.New(httpsource.Options{MaxModuleSize: 4 << 20})),
		Concurrency: 4,
		Policy:      policy.NewHolder(policy.Policy{}),
		Fetcher:     fetcher,
		ModuleURL:   func(sha string) string { return moduleServer.URL(moduleServerURL, sha) },
		Sandbox:     &countingSandbox{Sandbox: sandbox.New(sandbox.Config{Timeout: 3 * time.Second})},
		ModuleBytes: moduleServer.Store.Get,
	}
	moduleServer.Refill = reconciler.RefillModule
	if err := reconciler.SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	if err := ServeRenderedModules(ctx, mgr.GetCache(), moduleServer); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
			os.Exit(1)
		}
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return fmt.Errorf("cache did not sync")
	}
	return nil
}

func zapLevel() zapcore.Level {
	if os.Getenv("WASMEXT_TEST_DEBUG") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.WarnLevel
}

// --- helpers ---

var nsCounter atomic.Int64

// namespace creates a fresh namespace for one test.
func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e6, nsCounter.Add(1))}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	// envtest runs no namespace controller: delete the test's extensions so
	// they stop reconciling against its registry, which closes with it.
	t.Cleanup(func() {
		_ = k8s.DeleteAllOf(context.Background(), &v1alpha1.WasmExtension{}, client.InNamespace(ns.Name))
	})
	return ns.Name
}

func newExtension(ns, name, image string) *v1alpha1.WasmExtension {
	return &v1alpha1.WasmExtension{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.WasmExtensionSpec{
			Module: v1alpha1.ModuleSource{Image: image, Insecure: true},
			Output: v1alpha1.OutputWasmPlugin,
			Phase:  v1alpha1.PhaseAuthn,
		},
	}
}

func create(t *testing.T, o client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), o); err != nil {
		t.Fatalf("create %T %s: %v", o, o.GetName(), err)
	}
}

// eventually polls cond until it returns nil or waitFor passes.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	var err error
	poll := func(context.Context) (bool, error) { err = cond(); return err == nil, nil }
	if wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, waitFor, true, poll) != nil {
		t.Fatalf("timed out waiting for %s: %v", what, err)
	}
}

func getExt(t *testing.T, ns, name string) *v1alpha1.WasmExtension {
	t.Helper()
	ext := &v1alpha1.WasmExtension{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, ext); err != nil {
		t.Fatal(err)
	}
	return ext
}

// waitCondition waits until condition typ of the extension has status st
// and reason, for the current generation, and returns the extension.
func waitCondition(t *testing.T, ns, name, typ string, st metav1.ConditionStatus, reason string) *v1alpha1.WasmExtension {
	t.Helper()
	var ext *v1alpha1.WasmExtension
	eventually(t, fmt.Sprintf("%s/%s %s=%s (%s)", ns, name, typ, st, reason), func() error {
		ext = &v1alpha1.WasmExtension{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, ext); err != nil {
			return err
		}
		c := meta.FindStatusCondition(ext.Status.Conditions, typ)
		if c == nil || c.Status != st || c.Reason != reason || c.ObservedGeneration != ext.Generation {
			return fmt.Errorf("conditions: %+v", ext.Status.Conditions)
		}
		return nil
	})
	return ext
}

func waitReady(t *testing.T, ns, name string) *v1alpha1.WasmExtension {
	t.Helper()
	return waitCondition(t, ns, name, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSucceeded)
}

func getWasmPlugin(ns, name string) (*clientext.WasmPlugin, error) {
	wp := &clientext.WasmPlugin{}
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, wp)
	return wp, err
}
