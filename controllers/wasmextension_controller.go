// Package controllers holds the WasmExtension reconciler: thin
// orchestration of the pipeline stages (internal/oci fetch, internal/verify,
// internal/module load and inspect, internal/render) plus the API writes.
// Steps record observations in a scope; named predicates (policies.go)
// decide what to redo; status is computed from the observations once
// (status.go). It decides nothing about formats, bytes or Istio fields;
// those live in the stage packages.
package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/metrics"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/policy"
	"github.com/wasmext/wasmext/internal/render"
	"github.com/wasmext/wasmext/internal/sandbox"
)

// FieldOwner is the server-side apply field manager of every object the
// operator writes.
const FieldOwner = "wasmext"

// Resolver resolves an image reference to a manifest digest with one
// manifest request (no blob traffic). *oci.Fetcher implements it.
type Resolver interface {
	Resolve(ctx context.Context, req oci.Request) (oci.Resolved, error)
}

// DryRunner runs a module in a Proxy-Wasm sandbox; *sandbox.Sandbox
// implements it.
type DryRunner interface {
	Run(ctx context.Context, in sandbox.Input) (sandbox.Report, error)
}

// WasmExtensionReconciler reconciles WasmExtension objects.
type WasmExtensionReconciler struct {
	client.Client
	// APIReader reads without the cache: Secrets (not cached, so the
	// operator holds no Secret data in memory) and the rare ownership check.
	APIReader client.Reader
	Recorder  recorder.EventRecorder
	Resolver  Resolver
	Loader    *module.Loader
	// Policy is the cluster policy (flags); nil allows everything.
	Policy *policy.Holder
	// Fetcher reaches registries for signature artifacts.
	Fetcher *oci.Fetcher
	// SigstoreRoot returns the public-good Sigstore trusted root, or nil
	// while it is not (yet) available. nil means keyless verification
	// needs a trustedRootSecretRef.
	SigstoreRoot func() root.TrustedMaterial
	// ModuleURL returns the URL the operator's module server serves the
	// .wasm with this sha256 at; nil disables output EnvoyFilter.
	ModuleURL func(sha256 string) string
	// RootNamespace is Istio's root namespace and ClusterDomain the
	// cluster's DNS domain, for EnvoyFilter ordering and the module
	// server's Envoy cluster name; empty means istio-system and
	// cluster.local.
	RootNamespace, ClusterDomain string
	// SecretNamespaces, when not empty, are the only namespaces whose
	// Secrets the operator may read (--secret-namespaces).
	SecretNamespaces []string
	// Sandbox dry-runs modules before anything is rendered
	// (*sandbox.Sandbox); nil skips the dry run (modules are still
	// inspected).
	Sandbox DryRunner
	// ModuleBytes returns the .wasm with this sha256 if the module
	// server's store holds it; nil, or a miss, pulls it again by digest.
	ModuleBytes func(sha256 string) ([]byte, bool)
	// Concurrency is the number of extensions reconciled at once.
	Concurrency int
	// Clock is read once per reconcile; nil is the real clock.
	Clock clock.PassiveClock

	watches       *outputWatches
	resolutions   memory[resolution]
	semvers       memory[semverState]
	verifications memory[verified]
	statuses      memory[writtenStatus]
	tags          tagShare
	activity      activity
}

// Least privilege, proven by test/rbac (each verb removed alone breaks a scenario):
// +kubebuilder:rbac:groups=wasmext.io,resources=wasmextensions,verbs=list;watch;patch
// +kubebuilder:rbac:groups=wasmext.io,resources=wasmextensions/finalizers,verbs=update
// +kubebuilder:rbac:groups=wasmext.io,resources=wasmextensions/status,verbs=patch
// +kubebuilder:rbac:groups=extensions.istio.io,resources=wasmplugins;trafficextensions,verbs=get;list;watch;create;patch;delete;deletecollection
// +kubebuilder:rbac:groups=networking.istio.io,resources=envoyfilters,verbs=get;list;watch;create;patch;delete;deletecollection
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// The metrics endpoint authenticates and authorizes its scrapers through the API server:
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// Reconcile runs the pipeline for one extension: credentials, resolve,
// verify, load (fetch + inspect, once per digest), choose the output,
// dry-run (once per digest and configuration), render and apply. A
// deferred call then computes every condition from what the steps observed
// and patches the status if, and only if, it changed, so no early return
// can skip it.
func (r *WasmExtensionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	r.activity.start()
	defer r.activity.done()
	ext := &v1alpha1.WasmExtension{}
	if err := r.Get(ctx, req.NamespacedName, ext); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ext.DeletionTimestamp.IsZero() {
		r.forget(req.NamespacedName)
		return ctrl.Result{}, r.finalize(ctx, ext)
	}
	orig := ext.DeepCopy()
	s := &scope{ext: ext, now: r.now(), suspended: ext.Spec.Suspend, noSandbox: r.Sandbox == nil}
	if !s.suspended {
		s.requested = reconcileRequested(ext)
	}
	defer func() {
		setStatus(ext, s)
		metrics.CountReconcile(outcome(s))
		if err := r.patchStatus(ctx, orig, ext); err != nil {
			result, retErr = ctrl.Result{}, err
			return
		}
		r.recordEvents(orig, ext, s)
		result, retErr = s.result()
	}()
	if s.suspended {
		return ctrl.Result{}, nil
	}
	for _, step := range []func(context.Context, *scope) error{
		r.credentials, r.resolve, r.verify, r.load, r.chooseOutputStep, r.dryRun, r.renderAndApply,
	} {
		if err := step(ctx, s); err != nil {
			s.fail(err)
			break
		}
	}
	r.settleSemver(s)
	return ctrl.Result{}, nil
}

func (r *WasmExtensionReconciler) now() time.Time {
	if r.Clock == nil {
		return clock.RealClock{}.Now()
	}
	return r.Clock.Now()
}

// forget drops what the reconciler remembers in memory about an extension
// that is gone or going.
func (r *WasmExtensionReconciler) forget(k client.ObjectKey) {
	r.resolutions.forget(k)
	r.verifications.forget(k)
	r.semvers.forget(k)
	r.statuses.forget(k)
}

// Finalizer is what earlier versions put on every extension so that
// deletion waited for the operator to delete what it rendered. It is no
// longer added: a rendered object lives in its extension's namespace with
// a controller owner reference (blockOwnerDeletion), so Kubernetes' garbage
// collector deletes it, also while the operator is down or uninstalled, and
// `kubectl delete --cascade=foreground` waits for it. Not adding it saves
// one API write per extension on the path to Ready, and a CRD or namespace
// deletion never hangs on a finalizer nobody removes. An extension that
// still carries it (created by an earlier version) is released as before.
const Finalizer = "wasmext.io/rendered-objects"

// finalize deletes what an extension carrying the earlier versions'
// Finalizer rendered, then lets it go.
func (r *WasmExtensionReconciler) finalize(ctx context.Context, ext *v1alpha1.WasmExtension) error {
	if !controllerutil.ContainsFinalizer(ext, Finalizer) {
		return nil
	}
	for _, o := range outputKinds {
		err := r.DeleteAllOf(ctx, o.newObject(), client.InNamespace(ext.Namespace),
			client.MatchingLabels{render.LabelManagedBy: render.ManagedBy, render.LabelExtension: ext.Name})
		if err != nil && !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
			return fmt.Errorf("deleting rendered %s objects: %w", o.kind, err)
		}
	}
	orig := ext.DeepCopy()
	controllerutil.RemoveFinalizer(ext, Finalizer)
	// A reconcile of a cached copy of an extension already gone finds
	// nothing to let go.
	return client.IgnoreNotFound(r.Patch(ctx, ext, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})))
}

// CacheOptions limits the informer cache to what the operator needs: only
// the rendered objects it labeled, not every WasmPlugin of the mesh (for
// the output kinds served at start-up: the cache refuses kinds it cannot
// map; a kind whose CRD appears later is cached unfiltered), and Secret
// metadata only from secretNamespaces when that is not empty, so the
// operator needs no cluster-wide Secret list/watch.
func CacheOptions(served Served, secretNamespaces []string) cache.Options {
	ours := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{render.LabelManagedBy: render.ManagedBy})}
	by := map[client.Object]cache.ByObject{}
	for _, o := range outputKinds {
		if served[o.kind] {
			by[o.newObject()] = ours
		}
	}
	if len(secretNamespaces) > 0 {
		nss := map[string]cache.Config{}
		for _, ns := range secretNamespaces {
			nss[ns] = cache.Config{}
		}
		// Keyed by GVK: it also scopes the metadata-only Secret watch.
		by[&corev1.Secret{}] = cache.ByObject{Namespaces: nss}
	}
	// The cache keeps no managedFields, and of rendered objects only their
	// metadata and the hash of their spec (transformCached).
	return cache.Options{ByObject: by, DefaultTransform: transformCached}
}

// SetupWithManager registers the controller: it watches extensions (spec
// changes, deletion, reconcile requests), the objects it renders (so a hand
// edit or deletion is repaired), Secrets by metadata (so a pull Secret or
// trust material that appears or changes is picked up without holding
// Secret data in the cache) and the output CRDs (so Auto re-chooses when
// one is installed or removed).
func (r *WasmExtensionReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.WasmExtension{}, secretIndex, indexSecrets); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.WasmExtension{}, moduleSHAIndex, indexModuleSHA); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.WasmExtension{}, familyIndex, indexFamily); err != nil {
		return err
	}
	c, err := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.WasmExtension{}, builder.WithPredicates(extensionChanged)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.extensionsForSecret), builder.OnlyMetadata).
		Watches(&apiextensionsv1.CustomResourceDefinition{}, handler.EnqueueRequestsFromMapFunc(r.onOutputCRD),
			builder.OnlyMetadata, builder.WithPredicates(predicate.NewPredicateFuncs(isOutputCRD))).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Concurrency), RateLimiter: rateLimiter()}).
		Named("wasmextension").
		Build(r)
	if err != nil {
		return err
	}
	r.watches = &outputWatches{started: map[v1alpha1.OutputKind]bool{}, ctrl: c, mgr: mgr}
	metrics.RegisterExtensions(mgr.GetClient())
	served, err := ServedAtStart(mgr.GetConfig())
	if err != nil {
		return err
	}
	if err := r.watches.ensure(served); err != nil {
		return err
	}
	return registerInformers(ctx, mgr, served)
}
