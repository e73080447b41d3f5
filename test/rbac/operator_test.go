package rbac

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/wasmext/wasmext/controllers"
	"github.com/wasmext/wasmext/internal/cache"
	"github.com/wasmext/wasmext/internal/eventqueue"
	"github.com/wasmext/wasmext/internal/metricsauth"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/policy"
)

// leaseName is main.go's LeaderElectionID.
const leaseName = "wasmext.wasmext.io"

// operator is the real manager, wired as main.go wires it, running as a
// ServiceAccount through impersonation.
type operator struct {
	mgr      ctrl.Manager
	r        *controllers.WasmExtensionReconciler
	modules  *cache.Server
	metrics  string // the /metrics URL (HTTPS, authenticated and authorized)
	refused  *refusals
	cancel   context.CancelFunc
	exited   chan struct{}
	exitErr  atomic.Pointer[error]
	httpStop func()
}

// startOperator builds and starts the manager as user: leader election in
// operatorNS, the cache limited as CacheOptions does, metrics served as
// --metrics-secure serves them, the module server and its refill.
func startOperator(ctx context.Context, h *harness, user string) (*operator, error) {
	op := &operator{refused: &refusals{}, exited: make(chan struct{})}
	cfg := rest.CopyConfig(h.env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	cfg.UserAgent = "wasmext"
	cfg.Wrap(op.refused.wrap)
	served, err := controllers.ServedAtStart(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovering Istio CRDs: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	op.metrics = fmt.Sprintf("https://127.0.0.1:%d/metrics", port)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: h.scheme,
		Metrics: metricsserver.Options{BindAddress: fmt.Sprintf("127.0.0.1:%d", port), SecureServing: true,
			FilterProvider: metricsauth.Filter},
		HealthProbeBindAddress:  "0",
		LeaderElection:          true,
		LeaderElectionID:        leaseName,
		LeaderElectionNamespace: operatorNS,
		// As main.go: the Lease is released (updated) on shutdown.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         controllers.CacheOptions(served, nil),
		// Every run builds a controller named "wasmextension" in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	op.mgr = mgr
	runCtx, cancel := context.WithCancel(ctx)
	op.cancel = cancel
	if err := op.setUpReconciler(runCtx, h); err != nil {
		cancel()
		return nil, err
	}
	go func() {
		err := mgr.Start(runCtx)
		op.exitErr.Store(&err)
		close(op.exited)
	}()
	return op, nil
}

// setUpReconciler is main.go's setUpReconciler with test sizes and no
// Sigstore TUF (keyless verification is not among the scenarios).
func (op *operator) setUpReconciler(ctx context.Context, h *harness) error {
	fetcher := oci.NewFetcher(oci.Options{MaxModuleSize: 4 << 20, UserAgent: "wasmext"})
	op.modules = &cache.Server{Store: cache.NewStore(64 << 20), Key: h.moduleKey, Grace: cache.DefaultGrace}
	srv := httptest.NewServer(op.modules)
	op.httpStop = srv.Close
	loader := module.NewLoader(fetcher, 64).KeepBytes(func(sha string, b []byte) { _ = op.modules.Put(sha, b) })
	// Normal Events through main.go's queue.
	events := eventqueue.New(op.mgr.GetEventRecorder("wasmext"), op.mgr.GetScheme(), eventqueue.Options{QPS: 100, Burst: 100})
	if err := op.mgr.Add(events); err != nil {
		srv.Close()
		return err
	}
	op.r = &controllers.WasmExtensionReconciler{
		Client:        op.mgr.GetClient(),
		APIReader:     op.mgr.GetAPIReader(),
		Recorder:      events,
		Resolver:      fetcher,
		Loader:        loader,
		Concurrency:   4,
		Policy:        policy.NewHolder(policy.Policy{}),
		Fetcher:       fetcher,
		RootNamespace: "istio-system",
		ClusterDomain: "cluster.local",
		ModuleURL:     func(sha string) string { return op.modules.URL(srv.URL, sha) },
	}
	op.modules.Refill = op.r.RefillModule
	if err := op.r.SetupWithManager(ctx, op.mgr); err != nil {
		srv.Close()
		return fmt.Errorf("setting up controller: %w", err)
	}
	if err := controllers.ServeRenderedModules(ctx, op.mgr.GetCache(), op.modules); err != nil {
		srv.Close()
		return err
	}
	return nil
}

// exitError returns why the manager stopped, or nil while it runs.
func (op *operator) exitError() error {
	select {
	case <-op.exited:
		if err := *op.exitErr.Load(); err != nil {
			return err
		}
		return errors.New("manager stopped")
	default:
		return nil
	}
}

// ready waits until the manager leads and its caches synced. It fails
// early when the manager stopped, or when an informer's list or watch was
// refused (see refusals.informer).
func (op *operator) ready(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var synced atomic.Bool
	go func() {
		select {
		case <-op.mgr.Elected():
			synced.Store(op.mgr.GetCache().WaitForCacheSync(ctx))
		case <-ctx.Done():
		}
	}()
	var why error
	err := wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(context.Context) (bool, error) {
		if f, ok := op.refused.informer(); ok {
			return false, fmt.Errorf("an informer was refused: %s", f)
		}
		if err := op.exitError(); err != nil {
			return false, fmt.Errorf("manager stopped: %w", err)
		}
		why = errors.New("not elected leader, or caches not synced")
		return synced.Load(), nil
	})
	if err != nil && why != nil && ctx.Err() != nil {
		return fmt.Errorf("manager not ready within %s: %w", timeout, why)
	}
	return err
}

// stop stops the manager and waits for it. A manager whose start-time
// cache never synced does not stop (controller-runtime v0.25's
// runnableGroup.Start spins on a canceled context until every cache is
// ready; its informers keep running): then unstick is called, which grants
// the missing permission back so the cache syncs and the manager ends.
func (op *operator) stop(unstick func() error) error {
	op.cancel()
	defer op.httpStop()
	select {
	case <-op.exited:
		return nil
	case <-time.After(5 * time.Second):
	}
	if err := unstick(); err != nil {
		return err
	}
	select {
	case <-op.exited:
		return nil
	case <-time.After(90 * time.Second):
		if os.Getenv("WASMEXT_TEST_DEBUG") != "" {
			_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		}
		return errors.New("manager did not stop within 90s, even with its permissions back")
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
