package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/metrics"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
)

// credentials applies the cluster policy, then reads the pull Secret if the
// extension names one. Only a kubernetes.io/dockerconfigjson Secret in the
// extension's own namespace is ever read.
func (r *WasmExtensionReconciler) credentials(ctx context.Context, s *scope) error {
	src := s.ext.Spec.Module
	if src.HTTP != nil {
		return r.httpCredentials(ctx, s)
	}
	ref, err := oci.ParseReference(src.Image)
	if err != nil {
		return stepError(v1alpha1.ConditionModuleFetched, err)
	}
	// The cluster policy is applied before any network access: a refused
	// registry is never contacted.
	pol := r.Policy.Get()
	if err := pol.Check(&s.ext.Spec, ref.Registry, ref.Repository); err != nil {
		return stepError(v1alpha1.ConditionModuleFetched, err)
	}
	s.request = oci.Request{Image: src.Image, Insecure: pol.PlainHTTP(ref.Registry, src.Insecure)}
	s.tagged = ref.Digest == ""
	if src.PullSecretRef == nil {
		return nil
	}
	key := client.ObjectKey{Namespace: s.ext.Namespace, Name: src.PullSecretRef.Name}
	if err := r.secretAllowed(key.Namespace); err != nil {
		return stepError(v1alpha1.ConditionModuleFetched, err)
	}
	var secret corev1.Secret
	if err := r.APIReader.Get(ctx, key, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			err = fmt.Errorf("%w: Secret %s not found; create a kubernetes.io/dockerconfigjson Secret in namespace %s",
				errPullSecretNotFound, key.Name, key.Namespace)
		} else {
			err = fmt.Errorf("%w %s: %w", errSecretRead, key.Name, err)
		}
		return stepError(v1alpha1.ConditionModuleFetched, err)
	}
	if secret.Type != corev1.SecretTypeDockerConfigJson {
		return stepError(v1alpha1.ConditionModuleFetched, fmt.Errorf("%w: Secret %s has type %q, want %q",
			oci.ErrInvalidPullSecret, key.Name, secret.Type, corev1.SecretTypeDockerConfigJson))
	}
	cred, err := oci.CredentialFromDockerConfigJSON(secret.Data[corev1.DockerConfigJsonKey], ref.Registry)
	if err != nil {
		return stepError(v1alpha1.ConditionModuleFetched, fmt.Errorf("Secret %s: %w", key.Name, err))
	}
	s.request.Credential = cred
	s.secretVersion = secret.ResourceVersion
	return nil
}

// resolve turns the tag into a manifest digest: one manifest request, made
// with the extension's own credentials, so a cached module is only ever
// used by extensions that may read it. A resolution is reused until
// needsResolution says otherwise (reconciles caused by watch events do not
// ask the registry again), and shared for a few seconds with the
// extensions asking for the same image with the same credentials
// (tagShare).
func (r *WasmExtensionReconciler) resolve(ctx context.Context, s *scope) error {
	if s.ext.Spec.Module.Semver != "" {
		return r.resolveSemver(ctx, s)
	}
	if s.ext.Spec.Module.HTTP != nil {
		return r.resolveHTTP(ctx, s)
	}
	key := client.ObjectKeyFromObject(s.ext)
	want := resolution{image: s.request.Image, insecure: s.request.Insecure, secretVersion: s.secretVersion,
		generation: s.ext.Generation, requested: s.ext.GetAnnotations()[v1alpha1.ReconcileRequestAnnotation]}
	last := r.resolutions.get(key)
	s.confirmed = last
	if ok, why := needsResolution(last, want, s.now, interval(s.ext)); ok {
		log.FromContext(ctx).V(1).Info("Resolving module.image", "image", s.request.Image, "why", why)
		// What a person did (an edit, a reconcile request) asks the registry
		// itself; a first resolution or an interval's may share one.
		fresh := why != whyFirst && why != whyInterval
		res, at, err := r.tags.resolve(ctx, r.Resolver, s.request, s.now, fresh)
		if err != nil {
			return stepError(v1alpha1.ConditionModuleFetched, err)
		}
		want.resolved, want.at = res, at
		r.resolutions.put(key, want)
		last = &want
	}
	s.resolved, s.confirmed = last.resolved, last
	if pin := s.ext.Spec.Module.Digest; pin != "" && pin != s.resolved.Digest.String() {
		return stepError(v1alpha1.ConditionModuleFetched, fmt.Errorf("%w: %s resolved to %s, but module.digest pins %s; nothing else is accepted",
			errPinnedDigest, s.ext.Spec.Module.Image, s.resolved.Digest, pin))
	}
	return nil
}

// load returns the facts of the resolved module. When status already
// describes this exact repository@digest (steady state), nothing is pulled;
// otherwise the loader fetches and inspects it, once per distinct digest.
func (r *WasmExtensionReconciler) load(ctx context.Context, s *scope) error {
	if s.ext.Spec.Module.HTTP != nil {
		return r.loadHTTP(ctx, s)
	}
	if !needsPull(s.ext.Status.Module, s.resolved, wantsRegistry(&s.ext.Spec, r.ModuleURL != nil)) {
		s.facts = factsFromStatus(s.ext.Status.Module)
		s.registryChecked = s.ext.Status.Module.Delivery == v1alpha1.DeliveryRegistry
		return nil
	}
	start := time.Now()
	f, pulled, err := r.Loader.Load(ctx, s.request, s.resolved.Repository, s.resolved.Digest)
	if pulled || err != nil {
		metrics.ObserveFetch(time.Since(start), err)
	}
	if err != nil {
		return stepError(conditionForLoadError(err), err)
	}
	s.facts, s.fetched = &f, pulled
	return nil
}

func factsFromStatus(m *v1alpha1.ModuleStatus) *module.Facts {
	return &module.Facts{Repository: m.Repository, Digest: m.Digest, SHA256: m.SHA256,
		Size: m.Size, Format: oci.Format(m.Format), ABI: m.ABI}
}

// secretAllowed refuses to read Secrets outside --secret-namespaces: the
// operator is not allowed to, and a person must move the extension or ask
// for the namespace to be added.
func (r *WasmExtensionReconciler) secretAllowed(ns string) error {
	if len(r.SecretNamespaces) == 0 || slices.Contains(r.SecretNamespaces, ns) {
		return nil
	}
	return fmt.Errorf("%w: the operator reads Secrets only in %s (--secret-namespaces); ask the platform team to add namespace %s, or remove the Secret reference",
		errSecretNamespace, strings.Join(r.SecretNamespaces, ", "), ns)
}
