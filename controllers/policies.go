package controllers

import (
	"time"

	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
)

// The "should we act?" decisions of a reconcile, as pure predicates over
// what was gathered (cert-manager's policies shape). Each returns whether to
// act and, when it acts, why, in words a log line can carry. None reads a
// clock: the reconcile reads it once (scope.now) and passes it in.

// resolution is what a tag resolution depended on, and what it found.
type resolution struct {
	image, secretVersion string
	insecure             bool
	generation           int64
	requested            string // reconcile-request annotation value at the time
	resolved             oci.Resolved
	at                   time.Time
}

// The reasons of needsResolution that no person caused: a tag resolution
// for these may be shared with other extensions (tagShare).
const (
	whyFirst    = "not resolved yet"
	whyInterval = "interval passed"
)

// needsResolution says whether the tag must be resolved again (one manifest
// request): never resolved, a different image, transport or pull Secret
// version, a new generation of the spec, a reconcile request, or the
// interval has passed.
func needsResolution(last *resolution, want resolution, now time.Time, interval time.Duration) (bool, string) {
	switch {
	case last == nil:
		return true, whyFirst
	case last.image != want.image:
		return true, "module.image changed"
	case last.insecure != want.insecure:
		return true, "transport changed"
	case last.secretVersion != want.secretVersion:
		return true, "pull Secret changed"
	case last.generation != want.generation:
		return true, "spec changed"
	case last.requested != want.requested:
		return true, "reconcile requested"
	case now.Sub(last.at) >= interval:
		return true, whyInterval
	}
	return false, ""
}

// verificationKey is what one signature verification covers: the digest,
// the spec generation (keys, identity) and the versions of the Secrets
// holding the trust material.
type verificationKey struct {
	digest     string
	generation int64
	trust      string
}

// verified is a verification that passed, and what it covered.
type verified struct {
	key verificationKey
	by  string
	at  metav1.Time
}

// needsVerification says whether the signature must be checked: spec.verify
// is set and no passed verification covers this digest, generation and
// trust material, or the last attempt failed.
func needsVerification(spec *v1alpha1.Verification, last *verified, lastFailed bool, want verificationKey) (bool, string) {
	switch {
	case spec == nil:
		return false, ""
	case last == nil:
		return true, "not verified yet"
	case lastFailed:
		return true, "the last verification failed"
	case last.key.digest != want.digest:
		return true, "new digest"
	case last.key.generation != want.generation:
		return true, "spec changed"
	case last.key.trust != want.trust:
		return true, "trust material changed"
	}
	return false, ""
}

// needsPull says whether the module must be loaded (pulled and inspected,
// or taken from the loader's memory): status does not already describe
// this exact repository@digest, or the proxies are to pull it themselves
// and status does not say it was already rendered that way (the artifact's
// layout, which decides that, is not kept in status).
func needsPull(m *v1alpha1.ModuleStatus, res oci.Resolved, registry bool) bool {
	return m == nil || m.Digest != res.Digest.String() || m.Repository != res.Repository || m.ABI == "" ||
		(registry && m.Delivery != v1alpha1.DeliveryRegistry)
}

// liveDrifted says whether a live rendered object differs from the desired
// one: not controlled by ext, another spec, or a label or annotation the
// operator sets is missing or changed. Fields others add are left alone.
func liveDrifted(live, desired client.Object, spec func(client.Object) proto.Message, ext *v1alpha1.WasmExtension) bool {
	if !metav1.IsControlledBy(live, ext) || !renderedEqual(live, desired, spec) {
		return true
	}
	for k, v := range desired.GetLabels() {
		if live.GetLabels()[k] != v {
			return true
		}
	}
	return false
}

// renderedEqual compares the specs and the operator's annotations of live
// and desired: by the hash the cache keeps in their place (transformCached),
// else (an object read from the API server) field by field.
func renderedEqual(live, desired client.Object, spec func(client.Object) proto.Message) bool {
	if h, cached := live.GetLabels()[cachedSpecHash]; cached {
		want, err := renderedHash(spec(desired), desired.GetAnnotations())
		return err == nil && h == want
	}
	if !proto.Equal(spec(live), spec(desired)) {
		return false
	}
	for k, v := range desired.GetAnnotations() {
		if live.GetAnnotations()[k] != v {
			return false
		}
	}
	return true
}

// reconcileRequested returns the reconcile-request annotation's value when
// it asks for a reconcile not handled yet, else "".
func reconcileRequested(ext *v1alpha1.WasmExtension) string {
	v := ext.GetAnnotations()[v1alpha1.ReconcileRequestAnnotation]
	if v == "" || v == ext.Status.LastHandledReconcileAt {
		return ""
	}
	return v
}
