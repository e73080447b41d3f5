package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// TestOutageRealRegistry stops the CNCF distribution registry process
// under a Ready extension, and starts it again on the same address and
// storage: during the outage ModuleFetched is False (RegistryUnavailable),
// Ready stays True (kstatus Current) saying what is served, since when and
// when it was last confirmed, the WasmPlugin is not written and the module
// server keeps serving the bytes; afterwards the extension recovers with
// nobody acting.
func TestOutageRealRegistry(t *testing.T) {
	dist := startDistribution(t)
	ns := namespace(t)
	d1, err := ocitest.Push(context.Background(), dist.addr, "acme/outage:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	if err != nil {
		t.Fatal(err)
	}
	create(t, newExtension(ns, "outage", dist.addr+"/acme/outage:v1"))
	waitReady(t, ns, "outage")
	waitServes(t, ns, "outage", d1.String())
	wp, err := getWasmPlugin(ns, "outage")
	if err != nil {
		t.Fatal(err)
	}
	sha := getExt(t, ns, "outage").Status.Module.SHA256
	mustServe(t, wp.Spec.Url, sha)

	stopped := time.Now()
	dist.stop(t)
	requestReconcile(t, ns, "outage")
	ext := waitCondition(t, ns, "outage", v1alpha1.ConditionModuleFetched, metav1.ConditionFalse, v1alpha1.ReasonRegistryUnavailable)
	assertServesThroughOutage(t, ext, d1.String())
	if m := ext.Status.Module; m.ConfirmedAt == nil || m.ConfirmedAt.After(stopped) {
		t.Fatalf("confirmedAt = %v, want the last resolve before the registry stopped at %s", m.ConfirmedAt, stopped)
	}
	after, err := getWasmPlugin(ns, "outage")
	if err != nil || after.ResourceVersion != wp.ResourceVersion || after.Spec.Url != wp.Spec.Url {
		t.Fatalf("the outage wrote the WasmPlugin: %v (resourceVersion %s, was %s)", err, after.ResourceVersion, wp.ResourceVersion)
	}
	mustServe(t, wp.Spec.Url, sha)

	dist.start(t) // same address, same storage; nobody asks for a reconcile
	waitCondition(t, ns, "outage", v1alpha1.ConditionModuleFetched, metav1.ConditionTrue, v1alpha1.ReasonSucceeded)
	ext = waitReady(t, ns, "outage")
	if m := ext.Status.Module; m.Digest != d1.String() || m.ConfirmedAt == nil || m.ConfirmedAt.Before(&metav1.Time{Time: stopped.Truncate(time.Second)}) {
		t.Fatalf("after recovery status.module = %+v, want %s confirmed after %s", m, d1, stopped)
	}
	assertCurrent(t, ext)
}

// TestOutageRegistryAnswers500: a registry that answers 500 to everything
// is an outage too, and recovery follows its first good answer.
func TestOutageRegistryAnswers500(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	front := newFlakyFront(t, reg.Host)
	ns := namespace(t)
	d1 := pushT(t, reg, "acme/flaky:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	create(t, newExtension(ns, "flaky", front.host+"/acme/flaky:v1"))
	waitReady(t, ns, "flaky")
	waitServes(t, ns, "flaky", d1)

	front.fail.Store(true)
	requestReconcile(t, ns, "flaky")
	ext := waitCondition(t, ns, "flaky", v1alpha1.ConditionModuleFetched, metav1.ConditionFalse, v1alpha1.ReasonRegistryUnavailable)
	assertServesThroughOutage(t, ext, d1)
	if c := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionModuleFetched); !strings.Contains(c.Message, "500") {
		t.Errorf("ModuleFetched message %q does not quote the 500", c.Message)
	}
	front.fail.Store(false)
	waitCondition(t, ns, "flaky", v1alpha1.ConditionModuleFetched, metav1.ConditionTrue, v1alpha1.ReasonSucceeded)
	waitReady(t, ns, "flaky")
	waitServes(t, ns, "flaky", d1)
}

// TestOutageClassified: through a real Fetcher with short timeouts, a
// registry that hangs past the response-header timeout, one that answers
// 500 or 429, and one that is gone are RegistryUnavailable and retried; a
// 404 still needs a person.
func TestOutageClassified(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	status := func(code int) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNKNOWN","message":"test"}]}`)
		}))
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	tr := &http.Transport{ResponseHeaderTimeout: 300 * time.Millisecond}
	defer tr.CloseIdleConnections()
	f := oci.NewFetcher(oci.Options{HTTPClient: &http.Client{Transport: tr}})
	for _, tc := range []struct {
		name, host, reason string
		stalled            bool
	}{
		{"hangs", strings.TrimPrefix(hang.URL, "http://"), v1alpha1.ReasonRegistryUnavailable, false},
		{"500", status(http.StatusInternalServerError), v1alpha1.ReasonRegistryUnavailable, false},
		{"429", status(http.StatusTooManyRequests), v1alpha1.ReasonRegistryUnavailable, false},
		{"gone", strings.TrimPrefix(gone.URL, "http://"), v1alpha1.ReasonRegistryUnavailable, false},
		{"404", status(http.StatusNotFound), v1alpha1.ReasonNotFound, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.Resolve(context.Background(), oci.Request{Image: tc.host + "/acme/x:v1", Insecure: true})
			if err == nil {
				t.Fatal("resolved")
			}
			s := &scope{}
			s.fail(stepError(v1alpha1.ConditionModuleFetched, err))
			if s.failure.reason != tc.reason || s.failure.stalled != tc.stalled {
				t.Fatalf("%v: %s (stalled %v), want %s (stalled %v)", err, s.failure.reason, s.failure.stalled, tc.reason, tc.stalled)
			}
		})
	}
}

// assertServesThroughOutage: Ready True (RegistryUnavailable) for this
// generation, with the message naming the digest served, the outage's
// start and confirmedAt; no Reconciling, no Stalled; kstatus Current.
func assertServesThroughOutage(t *testing.T, ext *v1alpha1.WasmExtension, d string) {
	t.Helper()
	ready := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady)
	fetched := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionModuleFetched)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != v1alpha1.ReasonRegistryUnavailable || ready.ObservedGeneration != ext.Generation {
		t.Fatalf("Ready = %+v, want True (RegistryUnavailable) for generation %d", ready, ext.Generation)
	}
	m := ext.Status.Module
	if m == nil || m.Digest != d || m.ConfirmedAt == nil {
		t.Fatalf("status.module = %+v, want %s with confirmedAt", m, d)
	}
	want := fmt.Sprintf("serves %s@%s; registry unavailable since %s, last confirmed at %s", m.Repository, d,
		fetched.LastTransitionTime.UTC().Format(time.RFC3339), m.ConfirmedAt.UTC().Format(time.RFC3339))
	if !strings.Contains(ready.Message, want) {
		t.Fatalf("Ready message %q lacks %q", ready.Message, want)
	}
	for _, typ := range []string{v1alpha1.ConditionReconciling, v1alpha1.ConditionStalled} {
		if c := meta.FindStatusCondition(ext.Status.Conditions, typ); c != nil {
			t.Fatalf("%s = %+v during an outage, want absent", typ, c)
		}
	}
	assertCurrent(t, ext)
}

// mustServe GETs the module URL and checks the bytes hash to sha.
func mustServe(t *testing.T, u, sha string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", u, resp.StatusCode, err)
	}
	if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sha {
		t.Fatalf("GET %s: sha256 %x, want %s", u, h, sha)
	}
}

// flakyFront forwards to a registry, or answers 500 to everything while
// fail is set.
type flakyFront struct {
	host string
	fail atomic.Bool
}

func newFlakyFront(t *testing.T, upstream string) *flakyFront {
	t.Helper()
	target, err := url.Parse("http://" + upstream)
	if err != nil {
		t.Fatal(err)
	}
	f := &flakyFront{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		if !errors.Is(err, context.Canceled) {
			t.Logf("front: %v", err)
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.fail.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNKNOWN","message":"front: 500"}]}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.host = strings.TrimPrefix(srv.URL, "http://")
	return f
}
