package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/cache"
	"github.com/wasmext/wasmext/internal/policy"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// wasmFileServer serves body at /f.wasm (404 elsewhere) and counts every
// request it receives.
type wasmFileServer struct {
	*httptest.Server
	requests atomic.Int64
}

func newWasmFileServer(t *testing.T, body []byte, tls bool) *wasmFileServer {
	t.Helper()
	s := &wasmFileServer{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.URL.Path != "/f.wasm" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	})
	if tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func httpExtension(ns, name, url, sha string) *v1alpha1.WasmExtension {
	ext := newExtension(ns, name, "")
	ext.Spec.Module = v1alpha1.ModuleSource{HTTP: &v1alpha1.HTTPSource{URL: url, SHA256: sha}}
	return ext
}

// TestHTTPSourceReady: an http source is fetched once, rendered with the
// module server's URL, recorded by its sha256 without the URL's query,
// makes no request in steady state, is refilled from its URL by a fresh
// module server, and keeps serving when its server is gone.
func TestHTTPSourceReady(t *testing.T) {
	ns := namespace(t)
	wasm := wasmtest.Variant(1101) // ProxyWasm with its own sha256
	sha := shaHex(wasm)
	srv := newWasmFileServer(t, wasm, false)
	create(t, httpExtension(ns, "fromhttp", srv.URL+"/f.wasm?token=s3cr3t", sha))
	got := waitReady(t, ns, "fromhttp")
	m := got.Status.Module
	if m.SHA256 != sha || m.Digest != "sha256:"+sha || m.Repository != srv.URL+"/f.wasm" || m.Format != "http" || m.Delivery != v1alpha1.DeliveryCache ||
		m.ConfirmedAt == nil {
		t.Fatalf("status.module = %+v, want sha256 %s, repository %s/f.wasm, format http, delivery Cache, confirmedAt set", m, sha, srv.URL)
	}
	wp, err := getWasmPlugin(ns, "fromhttp")
	if err != nil {
		t.Fatal(err)
	}
	if url := moduleServer.URL(moduleServerURL, sha); wp.Spec.Url != url || wp.Spec.Sha256 != sha {
		t.Fatalf("WasmPlugin url %s sha256 %s, want %s and %s", wp.Spec.Url, wp.Spec.Sha256, url, sha)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("the source saw %d requests, want 1 (fetched once, dry run from the store)", n)
	}
	for _, c := range got.Status.Conditions {
		if strings.Contains(c.Message, "s3cr3t") {
			t.Fatalf("condition %s shows the URL's query: %s", c.Type, c.Message)
		}
	}

	settle(t, ns, "fromhttp")
	srv.requests.Store(0)
	before := writes.in(ns)
	for range 3 {
		reconcileNow(t, ns, "fromhttp")
	}
	if n, w := srv.requests.Load(), writes.in(ns)-before; n != 0 || w != 0 {
		t.Fatalf("steady-state reconciles made %d HTTP requests and %d API writes, want none", n, w)
	}

	fresh := &cache.Server{Store: cache.NewStore(64 << 20), Key: moduleServer.Key, Refill: reconciler.RefillModule}
	replica := httptest.NewServer(fresh)
	defer replica.Close()
	if body := httpGet(t, fresh.URL(replica.URL, sha)); string(body) != string(wasm) {
		t.Fatalf("refill served %d bytes, want the module's %d", len(body), len(wasm))
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("the refill made %d requests to the source, want 1", n)
	}

	srv.Close()
	assertHTTPSourceDownChangesNothing(t, ns, "fromhttp", wp.ResourceVersion)
}

// assertHTTPSourceDownChangesNothing: a requested reconcile with the source
// down is handled, keeps Ready and rewrites no rendered object.
func assertHTTPSourceDownChangesNothing(t *testing.T, ns, name, wpVersion string) {
	t.Helper()
	at := time.Now().UTC().Format(time.RFC3339Nano)
	update(t, ns, name, func(e *v1alpha1.WasmExtension) {
		e.Annotations = map[string]string{v1alpha1.ReconcileRequestAnnotation: at}
	})
	eventually(t, "the reconcile request handled", func() error {
		if got := getExt(t, ns, name).Status.LastHandledReconcileAt; got != at {
			return fmt.Errorf("lastHandledReconcileAt = %q, want %q", got, at)
		}
		return nil
	})
	ext := getExt(t, ns, name)
	if c := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("with the source down Ready is %+v, want True", c)
	}
	wp, err := getWasmPlugin(ns, name)
	if err != nil {
		t.Fatal(err)
	}
	if wp.ResourceVersion != wpVersion {
		t.Fatalf("with the source down the WasmPlugin was rewritten (resourceVersion %s, was %s)", wp.ResourceVersion, wpVersion)
	}
	// A new sha256 while the source is down: an outage, the old module
	// keeps being served.
	update(t, ns, name, func(e *v1alpha1.WasmExtension) { e.Spec.Module.HTTP.SHA256 = shaHex(wasmtest.Variant(1106)) })
	waitCondition(t, ns, name, v1alpha1.ConditionModuleFetched, metav1.ConditionFalse, v1alpha1.ReasonRegistryUnavailable)
	if wp, err = getWasmPlugin(ns, name); err != nil || wp.ResourceVersion != wpVersion {
		t.Fatalf("a new sha256 with the source down rewrote the WasmPlugin (%v)", err)
	}
}

// TestHTTPSourceDigestMismatch: bytes with another sha256 are refused,
// naming both hashes, and nothing is rendered.
func TestHTTPSourceDigestMismatch(t *testing.T) {
	ns := namespace(t)
	wasm := wasmtest.Variant(1102)
	srv := newWasmFileServer(t, wasm, false)
	pinned := shaHex(wasmtest.Variant(1103))
	create(t, httpExtension(ns, "mismatch", srv.URL+"/f.wasm", pinned))
	got := waitCondition(t, ns, "mismatch", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonDigestMismatch)
	c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionModuleFetched)
	if c == nil || c.Reason != v1alpha1.ReasonDigestMismatch || !strings.Contains(c.Message, pinned) || !strings.Contains(c.Message, shaHex(wasm)) {
		t.Fatalf("ModuleFetched = %+v, want DigestMismatch naming %s and %s", c, pinned, shaHex(wasm))
	}
	if got.Status.Module != nil || len(got.Status.Rendered) != 0 {
		t.Fatalf("a refused module was recorded: %+v %+v", got.Status.Module, got.Status.Rendered)
	}
	if _, err := getWasmPlugin(ns, "mismatch"); err == nil {
		t.Fatal("a WasmPlugin was rendered for a refused module")
	}
}

// TestHTTPSourceCustomCA: an HTTPS server with a private CA is reached with
// the CA of caSecretRef; until that Secret exists the extension is Stalled,
// and creating it is enough (the Secret is watched).
func TestHTTPSourceCustomCA(t *testing.T) {
	ns := namespace(t)
	wasm := wasmtest.Variant(1104)
	srv := newWasmFileServer(t, wasm, true)
	ext := httpExtension(ns, "private", srv.URL+"/f.wasm", shaHex(wasm))
	ext.Spec.Module.HTTP.CASecretRef = &v1alpha1.LocalObjectReference{Name: "private-ca"}
	create(t, ext)
	waitCondition(t, ns, "private", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonPullSecretNotFound)
	if n := srv.requests.Load(); n != 0 {
		t.Fatalf("the server saw %d requests before its CA was known, want 0", n)
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "private-ca"}, Data: map[string][]byte{CAKey: ca}})
	got := waitReady(t, ns, "private")
	if got.Status.Module.SHA256 != shaHex(wasm) {
		t.Fatalf("status.module.sha256 = %s, want %s", got.Status.Module.SHA256, shaHex(wasm))
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("the server saw %d requests, want 1", n)
	}
}

// TestHTTPSourceRefusals: what an http source cannot do is refused before
// any request: spec.verify (cosign signatures live in a registry) and
// delivery Registry (there is no artifact for the proxies to pull).
func TestHTTPSourceRefusals(t *testing.T) {
	ns := namespace(t)
	wasm := wasmtest.Variant(1105)
	srv := newWasmFileServer(t, wasm, false)
	verified := httpExtension(ns, "verified", srv.URL+"/f.wasm", shaHex(wasm))
	verified.Spec.Verify = &v1alpha1.Verification{Cosign: v1alpha1.CosignVerification{
		PublicKeySecretRef: &v1alpha1.LocalObjectReference{Name: "cosign-pub"}}}
	registry := httpExtension(ns, "registry", srv.URL+"/f.wasm", shaHex(wasm))
	registry.Spec.Delivery = v1alpha1.DeliveryRegistry
	create(t, verified)
	create(t, registry)
	for name, want := range map[string]struct{ cond, reason string }{
		"verified": {v1alpha1.ConditionModuleVerified, v1alpha1.ReasonVerificationConfigInvalid},
		"registry": {v1alpha1.ConditionRendered, v1alpha1.ReasonDeliveryUnavailable},
	} {
		got := waitCondition(t, ns, name, v1alpha1.ConditionStalled, metav1.ConditionTrue, want.reason)
		if c := meta.FindStatusCondition(got.Status.Conditions, want.cond); c == nil || c.Status != metav1.ConditionFalse || c.Reason != want.reason ||
			!strings.Contains(c.Message, "an http source has none") {
			t.Fatalf("%s: %s = %+v, want False %s saying an http source has none", name, want.cond, c, want.reason)
		}
	}
	if n := srv.requests.Load(); n != 0 {
		t.Fatalf("refused extensions made %d requests, want 0", n)
	}
}

// TestHTTPPolicy: the cluster policy applies to an http source's host and
// path like to a registry's.
func TestHTTPPolicy(t *testing.T) {
	for _, tc := range []struct {
		name string
		pol  policy.Policy
		url  string
		ok   bool
	}{
		{"no policy", policy.Policy{}, "https://files.example.com/m.wasm", true},
		{"allowed host", policy.Policy{AllowedRegistries: []string{"files.example.com"}}, "https://files.example.com/m.wasm", true},
		{"allowed path prefix", policy.Policy{AllowedRegistries: []string{"files.example.com/acme"}}, "https://files.example.com/acme/m.wasm", true},
		{"other path", policy.Policy{AllowedRegistries: []string{"files.example.com/acme"}}, "https://files.example.com/acme-evil/m.wasm", false},
		{"other host", policy.Policy{AllowedRegistries: []string{"ghcr.io"}}, "https://files.example.com/m.wasm", false},
		{"plain http to a listed host", policy.Policy{InsecureRegistries: []string{"svc.ns:8080"}}, "http://svc.ns:8080/m.wasm", true},
		{"plain http to another host", policy.Policy{InsecureRegistries: []string{"svc.ns:8080"}}, "http://other.ns/m.wasm", false},
		{"require signature", policy.Policy{RequireSignature: true}, "https://files.example.com/m.wasm", false},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if err := httpPolicy(tc.pol, u); (err == nil) != tc.ok || (err != nil && !errors.Is(err, policy.ErrViolation)) {
			t.Errorf("%s: httpPolicy = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
