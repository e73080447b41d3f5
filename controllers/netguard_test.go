package controllers

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// TestAddressRefused: a registry, a token realm or a blob redirect on a
// link-local or cloud-metadata destination is refused by the suite's
// fetcher (its default outbound-address policy), with Reason
// AddressRefused, Stalled (a person must fix the reference or the
// policy), a message naming the destination, and nothing rendered.
func TestAddressRefused(t *testing.T) {
	ns := namespace(t)
	realm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="http://metadata.google.internal/token",service="registry"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(realm.Close)
	redirect, redirected := redirectingRegistry(t, "http://169.254.169.254/latest/meta-data/")

	for _, c := range []struct{ name, image, shown string }{
		{"literal", "169.254.169.254/acme/filter:1", "169.254.169.254"},
		{"metadata-name", "metadata.google.internal/acme/filter:1", "metadata.google.internal"},
		{"aws-ipv6", "[fd00:ec2::254]:5000/acme/filter:1", "fd00:ec2::254"},
		{"realm", strings.TrimPrefix(realm.URL, "http://") + "/acme/filter:1", "metadata.google.internal"},
		{"redirect", redirect + "/acme/filter:v1", "169.254.169.254"},
	} {
		t.Run(c.name, func(t *testing.T) {
			create(t, newExtension(ns, c.name, c.image))
			ext := waitCondition(t, ns, c.name, v1alpha1.ConditionModuleFetched, metav1.ConditionFalse, v1alpha1.ReasonAddressRefused)
			if m := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionModuleFetched).Message; !strings.Contains(m, c.shown) || !strings.Contains(m, "address refused") {
				t.Errorf("ModuleFetched message %q does not name %s", m, c.shown)
			}
			waitCondition(t, ns, c.name, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonAddressRefused)
			if _, err := getWasmPlugin(ns, c.name); err == nil {
				t.Error("a WasmPlugin was rendered")
			}
		})
	}
	if redirected.Load() == 0 {
		t.Error("the registry redirected no blob GET")
	}
}

// redirectingRegistry serves a pushed module through a proxy that answers
// every blob GET with a 307 to target; it returns its host and the count of
// redirects.
func redirectingRegistry(t *testing.T, target string) (string, *atomic.Int32) {
	t.Helper()
	reg := ocitest.NewRegistry(t)
	pushT(t, reg, "acme/filter:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: reg.Host})
	var n atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			n.Add(1)
			http.Redirect(w, r, target, http.StatusTemporaryRedirect)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return strings.TrimPrefix(front.URL, "http://"), &n
}
