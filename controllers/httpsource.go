package controllers

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/httpsource"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/policy"
)

// The steps of a module.http source. The sha256 in the spec is the
// resolution (no registry is asked anything), there is no signature to
// verify, the proxies always get the module from the module server, and
// once status describes that sha256 nothing is fetched again.

// CAKey is the data key of a module.http.caSecretRef Secret (PEM).
const CAKey = "ca.crt"

// httpCredentials is the credentials step of an http source: the cluster
// policy and what an http source cannot do, all before any network access.
// The CA Secret is read only when the module must be fetched (httpRequest).
func (r *WasmExtensionReconciler) httpCredentials(_ context.Context, s *scope) error {
	spec := &s.ext.Spec
	u, err := url.Parse(spec.Module.HTTP.URL)
	if err != nil || u.Host == "" {
		return stepError(v1alpha1.ConditionModuleFetched, fmt.Errorf("%w: module.http.url %s is not an absolute URL",
			oci.ErrInvalidReference, httpsource.Shown(spec.Module.HTTP.URL)))
	}
	if err := httpPolicy(r.Policy.Get(), u); err != nil {
		return stepError(v1alpha1.ConditionModuleFetched, err)
	}
	if spec.Verify != nil {
		return stepError(v1alpha1.ConditionModuleVerified, fmt.Errorf(
			"%w: spec.verify checks cosign signatures stored in a registry; an http source has none (module.http.sha256 pins the bytes): remove spec.verify or publish the module as an image",
			errVerifyConfig))
	}
	if err := httpDelivery(spec, r.ModuleURL != nil); err != nil {
		return stepError(v1alpha1.ConditionRendered, err)
	}
	return nil
}

// httpPolicy applies the cluster policy to an http source: its host and
// path must be allowed like a registry's (--allowed-registries), plain
// http:// is reached only on hosts --insecure-registries names (when it
// names any), and --require-signature refuses it (it carries none).
func httpPolicy(pol policy.Policy, u *url.URL) error {
	shown := httpsource.Shown(u.String())
	switch {
	case !pol.Allowed(u.Host, strings.TrimPrefix(u.Path, "/")):
		return fmt.Errorf("%w: %s is not in the operator's --allowed-registries (%s); use a module from an allowed host",
			policy.ErrViolation, shown, strings.Join(pol.AllowedRegistries, ", "))
	case u.Scheme == "http" && len(pol.InsecureRegistries) > 0 && !pol.PlainHTTP(u.Host, false):
		return fmt.Errorf("%w: plain HTTP to %s is not allowed by the operator's --insecure-registries (%s); use https://",
			policy.ErrViolation, u.Host, strings.Join(pol.InsecureRegistries, ", "))
	case pol.RequireSignature:
		return fmt.Errorf("%w: the operator requires signed modules (--require-signature) and an http source carries no signature; publish the module as a signed image",
			policy.ErrViolation)
	}
	return nil
}

// httpDelivery refuses what an http source cannot be delivered by:
// Registry (there is no OCI artifact the proxies could pull), and so
// anything without the module server.
func httpDelivery(spec *v1alpha1.WasmExtensionSpec, moduleServer bool) error {
	switch {
	case spec.Delivery == v1alpha1.DeliveryRegistry:
		return fmt.Errorf("%w: delivery Registry makes the proxies pull an OCI artifact, and an http source has none; remove delivery (Cache is the default) or publish the module as an image",
			errDeliveryUnavailable)
	case !moduleServer:
		return fmt.Errorf("%w: an http source is delivered by the operator's module server, which is not configured (--module-server-url); ask the platform team to enable it or publish the module as an image",
			errDeliveryUnavailable)
	}
	return nil
}

// resolveHTTP: the pinned sha256 is the resolution.
func (r *WasmExtensionReconciler) resolveHTTP(_ context.Context, s *scope) error {
	s.resolved = httpResolved(s.ext.Spec.Module.HTTP)
	return nil
}

// httpResolved is what an http source resolves to: the URL as shown and
// the sha256 of the .wasm as its digest.
func httpResolved(src *v1alpha1.HTTPSource) oci.Resolved {
	return oci.Resolved{Repository: httpsource.Shown(src.URL), Digest: digest.Digest("sha256:" + src.SHA256)}
}

// loadHTTP returns the facts of the pinned module: from status when it
// already describes this URL and sha256 (steady state: no request), else
// fetched and inspected by the loader, once per URL and sha256.
func (r *WasmExtensionReconciler) loadHTTP(ctx context.Context, s *scope) error {
	if !needsPull(s.ext.Status.Module, s.resolved, false) {
		s.facts = factsFromStatus(s.ext.Status.Module)
		return nil
	}
	req, err := r.httpRequest(ctx, s.ext)
	if err != nil {
		return stepError(v1alpha1.ConditionModuleFetched, err)
	}
	f, pulled, err := r.Loader.LoadHTTP(ctx, req)
	if err != nil {
		return stepError(conditionForLoadError(err), err)
	}
	// Bytes with the pinned sha256 were read from the URL (by this call or
	// an earlier one): that is what confirms an http source
	// (status.module.confirmedAt); it is never asked again.
	s.facts, s.fetched = &f, pulled
	s.confirmed = &resolution{resolved: s.resolved, at: s.now}
	return nil
}

// httpRequest is what to fetch for ext's http source, with the CA of its
// caSecretRef (read like a pull Secret: own namespace, --secret-namespaces).
func (r *WasmExtensionReconciler) httpRequest(ctx context.Context, ext *v1alpha1.WasmExtension) (httpsource.Request, error) {
	src := ext.Spec.Module.HTTP
	req := httpsource.Request{URL: src.URL, SHA256: src.SHA256}
	if src.CASecretRef == nil {
		return req, nil
	}
	key := client.ObjectKey{Namespace: ext.Namespace, Name: src.CASecretRef.Name}
	if err := r.secretAllowed(key.Namespace); err != nil {
		return req, err
	}
	var secret corev1.Secret
	if err := r.APIReader.Get(ctx, key, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return req, fmt.Errorf("%w: CA Secret %s not found; create a Secret with key %s (PEM) in namespace %s",
				errPullSecretNotFound, key.Name, CAKey, key.Namespace)
		}
		return req, fmt.Errorf("%w %s: %w", errSecretRead, key.Name, err)
	}
	if req.CA = secret.Data[CAKey]; len(req.CA) == 0 {
		return req, fmt.Errorf("%w: CA Secret %s has no key %s", oci.ErrInvalidPullSecret, key.Name, CAKey)
	}
	return req, nil
}

// refetchHTTP fetches ext's http module again for its bytes (the module
// server's refill, a dry run whose bytes left the store), after the same
// checks as a reconcile, and only the sha256 wanted.
func (r *WasmExtensionReconciler) refetchHTTP(ctx context.Context, ext *v1alpha1.WasmExtension, sha256hex string) ([]byte, error) {
	if err := r.httpCredentials(ctx, &scope{ext: ext}); err != nil {
		return nil, err
	}
	if ext.Spec.Module.HTTP.SHA256 != sha256hex {
		return nil, fmt.Errorf("%w: module.http.sha256 of %s/%s is now %s, not %s", module.ErrContentChanged,
			ext.Namespace, ext.Name, ext.Spec.Module.HTTP.SHA256, sha256hex)
	}
	req, err := r.httpRequest(ctx, ext)
	if err != nil {
		return nil, err
	}
	return r.Loader.BytesHTTP(ctx, req)
}

// httpSecretNames lists the Secret an http source names (its CA), for the
// Secret watch.
func httpSecretNames(ext *v1alpha1.WasmExtension) []string {
	if h := ext.Spec.Module.HTTP; h != nil && h.CASecretRef != nil {
		return []string{h.CASecretRef.Name}
	}
	return nil
}
