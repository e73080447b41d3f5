// Command manager runs the wasmext operator. It reconciles every
// WasmExtension into the Istio objects that make proxies load its Wasm
// module, pinned to the digest it verified:
//
//   - a TrafficExtension (extensions.istio.io/v1alpha1, Istio 1.32+),
//   - a WasmPlugin (extensions.istio.io/v1alpha1), or
//   - an EnvoyFilter (networking.istio.io/v1alpha3) holding the pair of
//     patches Istio documents for remote Wasm (an ECDS filter and its
//     extension config), whose code proxies fetch over HTTP from the
//     operator's module server, with the module's SHA-256.
//
// spec.output picks one; Auto (the default) takes the first the cluster
// serves, in that order, and switches when Istio's CRDs change. Every
// replica runs the module server (--module-server-bind-address), which
// serves verified .wasm at a path unguessable per module (an HMAC of its
// sha256 under a key all replicas share), only while an extension renders
// it and for a grace period after, from memory or --module-cache-dir, and
// re-pulls a module it does not hold; output EnvoyFilter needs its address
// (--module-server-url).
//
// Before rendering a new module or pluginConfig it dry-runs the module in a
// Proxy-Wasm sandbox (--dry-run-*). `manager check <image-ref|file.wasm>`
// runs the same fetch, inspection and dry run locally, for CI (package
// internal/check).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/wasmext/wasmext/controllers"
	"github.com/wasmext/wasmext/internal/cache"
	"github.com/wasmext/wasmext/internal/check"
	"github.com/wasmext/wasmext/internal/httpsource"
	"github.com/wasmext/wasmext/internal/metrics"
	"github.com/wasmext/wasmext/internal/metricsauth"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/netguard"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/policy"
	"github.com/wasmext/wasmext/internal/sandbox"
	"github.com/wasmext/wasmext/internal/scheme"
	"github.com/wasmext/wasmext/internal/verify"
)

// options are the operator's command-line flags.
type options struct {
	metricsAddr     string
	metricsSecure   bool
	secretNS        []string
	rootNamespace   string
	clusterDomain   string
	probeAddr       string
	pprofAddr       string
	leaderElect     bool
	leaderElectNS   string
	maxModuleSize   string
	moduleCacheSize int
	concurrent      int
	kubeAPIQPS      float32
	kubeAPIBurst    int
	eventQPS        float32
	eventBurst      int
	policy          policy.Policy
	sigstoreTUF     bool
	deniedCIDRs     string
	allowLinkLocal  bool
	moduleAddr      string
	moduleURL       string
	moduleKeyFile   string
	moduleGrace     time.Duration
	moduleBytes     string
	moduleCacheDir  string
	dryRunTimeout   time.Duration
	dryRunMemory    string
	dryRunLogBytes  int
	dryRunParallel  int
	dryRunCompiler  bool
	zap             zap.Options

	// Parsed from the flags above by parseFlags.
	maxSize    resource.Quantity // --max-module-size
	cacheBytes resource.Quantity // --module-cache-bytes
	moduleKey  cache.Key         // --module-server-key-file or $WASMEXT_MODULE_SERVER_KEY; empty: random
	sandbox    sandbox.Config    // the --dry-run-* flags
	guard      *netguard.Policy  // --denied-cidrs, --allow-link-local
}

// moduleKeyEnv holds the module URL key when no key file is given (from a
// Secret: see config/manager). It is read directly, not as a flag default,
// so that --help never prints it.
const moduleKeyEnv = "WASMEXT_MODULE_SERVER_KEY"

// parseFlags parses the operator's command line and checks it, so that a
// bad flag fails before anything starts.
func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := pflag.NewFlagSet("wasmext", pflag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: manager [flags]           run the operator\n"+
			"       manager check [flags] <image-ref|file.wasm>   dry-run a module as the operator would (manager check --help)\n\nFlags:\n")
		fs.PrintDefaults()
	}
	o.define(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// define adds the operator's flags to fs; a new flag is one more line here
// (and a check in validate).
func (o *options) define(fs *pflag.FlagSet) {
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443", "Address the Prometheus metrics endpoint binds to; \"0\" disables it.")
	fs.BoolVar(&o.metricsSecure, "metrics-secure", true, "Serve /metrics over HTTPS (a self-signed certificate) to clients that authenticate with a Kubernetes token allowed to get the non-resource URL /metrics (TokenReview and SubjectAccessReview); false serves plain HTTP to anyone.")
	fs.StringSliceVar(&o.secretNS, "secret-namespaces", nil, "Namespaces whose Secrets (pull Secrets, cosign keys, trusted roots) the operator may read and watch, comma-separated; extensions elsewhere that name a Secret are refused (PolicyViolation). Empty: every namespace (needs cluster-wide Secret get/list/watch).")
	fs.StringVar(&o.rootNamespace, "istio-root-namespace", "istio-system", "Istio's root namespace (meshConfig.rootNamespace), for ordering and mesh-wide extensions.")
	fs.StringVar(&o.clusterDomain, "cluster-domain", "cluster.local", "The cluster's DNS domain, for the module server's Envoy cluster name in EnvoyFilters.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "", "Address net/http/pprof's /debug/pprof/ endpoints bind to, unauthenticated (e.g. 127.0.0.1:6060, for profiling); empty disables them.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader so only one replica reconciles at a time.")
	fs.StringVar(&o.leaderElectNS, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the pod's namespace).")
	fs.StringVar(&o.maxModuleSize, "max-module-size", "256Mi", "Largest Wasm module or layer the operator reads from a registry (a Kubernetes quantity).")
	fs.IntVar(&o.moduleCacheSize, "module-cache-size", 1024, "Number of distinct modules whose verified facts are kept in memory.")
	o.defineThroughput(fs)
	fs.StringSliceVar(&o.policy.AllowedRegistries, "allowed-registries", nil, "Registry hosts or host/path prefixes modules may come from (comma-separated); empty allows all. Checked before any network access.")
	fs.StringSliceVar(&o.policy.InsecureRegistries, "insecure-registries", nil, "Registry hosts reached over plain HTTP (comma-separated); when set, module.insecure is refused for other hosts.")
	fs.BoolVar(&o.policy.RequireSignature, "require-signature", false, "Refuse extensions without spec.verify (Reason PolicyViolation).")
	fs.BoolVar(&o.policy.RemoveUnverified, "remove-unverified", false, "Remove an extension's rendered objects when the signature of the module they serve stops verifying (default: keep them, last-known-good, with Stalled and a Warning Event).")
	fs.BoolVar(&o.sigstoreTUF, "sigstore-tuf", true, "Fetch the public-good Sigstore trusted root through TUF at start-up, for keyless verification without trustedRootSecretRef.")
	fs.StringVar(&o.moduleAddr, "module-server-bind-address", ":8082", "Address every replica serves verified .wasm modules on, to the proxies of extensions with delivery Cache; \"0\" disables it.")
	fs.StringVar(&o.moduleURL, "module-server-url", "", "Base URL proxies reach the module server at (e.g. http://wasmext-modules.wasmext-system.svc:8082); empty disables delivery Cache and output EnvoyFilter.")
	fs.StringVar(&o.moduleKeyFile, "module-server-key-file", "", "File holding the key module URLs are derived from (HMAC-SHA256 of each module's sha256), at least 32 bytes, the same on every replica, e.g. a mounted Secret. Default: $"+moduleKeyEnv+", else a random key per process (URLs then differ per replica).")
	fs.DurationVar(&o.moduleGrace, "module-server-grace", cache.DefaultGrace, "How long a module stays served after the last extension stops rendering it, so that proxies of a rollout in progress still load it.")
	fs.StringVar(&o.moduleBytes, "module-cache-bytes", "1Gi", "Bytes of verified .wasm kept for the module server: in memory, or on disk with --module-cache-dir (least recently used evicted; misses are re-pulled).")
	fs.StringVar(&o.moduleCacheDir, "module-cache-dir", "", "Directory (e.g. an emptyDir) the module server keeps modules in instead of memory, within --module-cache-bytes; a file found at start is served only after its sha256 is checked again. Empty: memory.")
	fs.StringVar(&o.deniedCIDRs, "denied-cidrs", "", "Address ranges the operator never connects to (registries, token realms, HTTP sources, redirects, TUF), comma-separated CIDRs, checked on the resolved address, on top of link-local and cloud-metadata addresses (always refused); e.g. 10.0.0.0/8 to keep modules off private addresses.")
	fs.BoolVar(&o.allowLinkLocal, "allow-link-local", false, "Connect to link-local and cloud-metadata addresses and names (169.254.0.0/16, fe80::/10, fd00:ec2::/32, metadata.google.internal, ...), refused by default (Reason AddressRefused); only for a registry that really lives on a link-local address.")
	o.defineDryRun(fs)
	gofs := flag.NewFlagSet("zap", flag.ContinueOnError)
	o.zap.BindFlags(gofs) // --zap-log-level, --zap-devel, --zap-encoder, ...
	if f := flag.CommandLine.Lookup("kubeconfig"); f != nil {
		gofs.Var(f.Value, f.Name, f.Usage) // controller-runtime's --kubeconfig, read by ctrl.GetConfig
	}
	fs.AddGoFlagSet(gofs)
}

// validate checks the parsed flags and parses the quantities.
func (o *options) validate() error {
	if err := o.validateThroughput(); err != nil {
		return err
	}
	var err error
	if o.maxSize, err = resource.ParseQuantity(o.maxModuleSize); err != nil || o.maxSize.Value() <= 0 {
		return fmt.Errorf("--max-module-size %q is not a positive quantity", o.maxModuleSize)
	}
	if o.cacheBytes, err = resource.ParseQuantity(o.moduleBytes); err != nil || o.cacheBytes.Value() <= 0 {
		return fmt.Errorf("--module-cache-bytes %q is not a positive quantity", o.moduleBytes)
	}
	if o.moduleGrace < 0 {
		return fmt.Errorf("--module-server-grace %s is negative", o.moduleGrace)
	}
	if err := o.validateDryRun(); err != nil {
		return err
	}
	denied, err := netguard.ParseCIDRs(o.deniedCIDRs)
	if err != nil {
		return fmt.Errorf("--denied-cidrs: %w", err)
	}
	o.guard = netguard.New(netguard.Options{DeniedCIDRs: denied, AllowLinkLocal: o.allowLinkLocal})
	return o.readModuleKey()
}

// readModuleKey reads the module URL key from --module-server-key-file or
// $WASMEXT_MODULE_SERVER_KEY. Its errors never contain the key.
func (o *options) readModuleKey() error {
	var err error
	switch env := os.Getenv(moduleKeyEnv); {
	case o.moduleKeyFile != "":
		if o.moduleKey, err = cache.ReadKeyFile(o.moduleKeyFile); err != nil {
			return fmt.Errorf("--module-server-key-file: %w", err)
		}
	case env != "":
		if o.moduleKey, err = cache.ParseKey([]byte(env)); err != nil {
			return fmt.Errorf("$%s: %w", moduleKeyEnv, err)
		}
	}
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(runCheck(os.Args[2:], check.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
	}
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, pflag.ErrHelp) {
		os.Exit(0) // --help printed the usage
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.zap)))
	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		ctrl.Log.Error(err, "Operator stopped")
		os.Exit(1)
	}
}

// run starts the manager with the reconciler, the probes and the module
// server, and returns when ctx ends or the manager fails.
func run(ctx context.Context, o *options) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = o.kubeAPIQPS, o.kubeAPIBurst
	cfg.UserAgent = "wasmext"
	served, err := controllers.ServedAtStart(cfg)
	if err != nil {
		return fmt.Errorf("discovering Istio CRDs: %w", err)
	}
	s, err := scheme.New()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  s,
		Metrics:                 metricsOptions(o),
		HealthProbeBindAddress:  o.probeAddr,
		PprofBindAddress:        o.pprofAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        "wasmext.wasmext.io",
		LeaderElectionNamespace: o.leaderElectNS,
		// The process exits when the manager stops, so the next replica
		// need not wait out the Lease after a rolling upgrade.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         controllers.CacheOptions(served, o.secretNS),
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	// Closed after the manager has stopped, so no reconcile is dry-running.
	sb := sandbox.New(o.sandbox)
	defer func() { _ = sb.Close(context.Background()) }()
	modules, err := setUpReconciler(ctx, mgr, o, sb)
	if err != nil {
		return err
	}
	if err := addProbes(mgr); err != nil {
		return err
	}
	if err := addModuleServer(mgr, o.moduleAddr, modules); err != nil {
		return err
	}
	ctrl.Log.Info("Starting operator", "maxModuleSize", o.maxSize.String(), "concurrent", o.concurrent,
		"dryRunTimeout", o.sandbox.Timeout.String(), "dryRunMemoryLimit", check.FormatPages(o.sandbox.MemoryLimitPages))
	return mgr.Start(ctx)
}

// setUpReconciler wires the fetcher, the module loader, the module store,
// the Sigstore root and the dry-run sandbox into the reconciler and adds it
// to mgr. It returns the module server, whose misses the reconciler refills.
func setUpReconciler(ctx context.Context, mgr ctrl.Manager, o *options, sb *sandbox.Sandbox) (*cache.Server, error) {
	fetcher := oci.NewFetcher(oci.Options{MaxModuleSize: o.maxSize.Value(), UserAgent: "wasmext", WrapTransport: metrics.Transport, Guard: o.guard})
	publicGood := &verify.PublicGoodRoot{HTTPClient: &http.Client{Transport: o.guard.Transport(), Timeout: time.Minute}}
	if o.sigstoreTUF {
		go publicGood.Run(ctx, ctrl.Log.WithName("sigstore"), 5*time.Minute)
	}
	modules, err := newModuleServer(o)
	if err != nil {
		return nil, err
	}
	loader := module.NewLoader(fetcher, o.moduleCacheSize).KeepBytes(func(sha string, b []byte) {
		if err := modules.Put(sha, b); err != nil {
			ctrl.Log.Info("Module not kept for serving", "sha256", sha, "error", err.Error())
		}
	}).WithHTTP(httpsource.New(httpsource.Options{MaxModuleSize: o.maxSize.Value(), UserAgent: "wasmext", Transport: o.guard.Transport()}))
	var r *controllers.WasmExtensionReconciler // set below, before the manager starts
	events, err := o.eventQueue(mgr, func() bool { return r.Busy() })
	if err != nil {
		return nil, err
	}
	r = &controllers.WasmExtensionReconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Recorder:     events,
		Resolver:     fetcher,
		Loader:       loader,
		Concurrency:  o.concurrent,
		Policy:       policy.NewHolder(o.policy),
		Fetcher:      fetcher,
		SigstoreRoot: publicGood.Get,
		Sandbox:      sb,
		ModuleBytes:  modules.Store.Get,

		SecretNamespaces: o.secretNS,
		RootNamespace:    o.rootNamespace,
		ClusterDomain:    o.clusterDomain,
	}
	modules.Refill = r.RefillModule
	if o.moduleURL != "" {
		r.ModuleURL = func(sha string) string { return modules.URL(o.moduleURL, sha) }
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return nil, fmt.Errorf("setting up controller: %w", err)
	}
	if err := controllers.ServeRenderedModules(ctx, mgr.GetCache(), modules); err != nil {
		return nil, err
	}
	return modules, nil
}

// newModuleServer builds the module server from the flags: its key, its
// grace period and a Store in memory or in --module-cache-dir.
func newModuleServer(o *options) (*cache.Server, error) {
	key := o.moduleKey
	if len(key) == 0 {
		var err error
		if key, err = cache.NewKey(); err != nil {
			return nil, err
		}
		ctrl.Log.Info("Generated a module server key for this process: module URLs differ per replica; set $" +
			moduleKeyEnv + " or --module-server-key-file to share one")
	}
	store := cache.NewStore(o.cacheBytes.Value())
	if o.moduleCacheDir != "" {
		var err error
		if store, err = cache.OpenDiskStore(o.moduleCacheDir, o.cacheBytes.Value()); err != nil {
			return nil, err
		}
	}
	return &cache.Server{Store: store, Key: key, Grace: o.moduleGrace}, nil
}

// metricsOptions serves /metrics over HTTPS with authentication and
// authorization by the API server (as the kubebuilder v4 scaffold does;
// internal/metricsauth says why not with controller-runtime's filter), or
// over plain HTTP with --metrics-secure=false.
func metricsOptions(o *options) metricsserver.Options {
	m := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.metricsSecure}
	if o.metricsSecure {
		m.FilterProvider = metricsauth.Filter
	}
	return m
}

// addProbes adds /healthz and /readyz.
func addProbes(mgr ctrl.Manager) error {
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	// Ready once the informer caches have synced: before that a replica
	// would reconcile against an empty view of the cluster.
	return mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return errors.New("informer caches have not synced")
		}
		return nil
	})
}

// addModuleServer serves verified modules from every replica (not only the
// leader) at addr: proxies fetch them for output EnvoyFilter.
func addModuleServer(mgr ctrl.Manager, addr string, modules *cache.Server) error {
	if addr == "0" || addr == "" {
		return nil
	}
	return mgr.Add(&manager.Server{
		Name: "modules",
		Server: &http.Server{
			Addr:              addr,
			Handler:           modules,
			ReadHeaderTimeout: 10 * time.Second,
		},
	})
}
