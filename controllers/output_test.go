package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/cache"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

func TestChooseOutput(t *testing.T) {
	all := Served{v1alpha1.OutputTrafficExtension: true, v1alpha1.OutputWasmPlugin: true, v1alpha1.OutputEnvoyFilter: true}
	noTE := Served{v1alpha1.OutputWasmPlugin: true, v1alpha1.OutputEnvoyFilter: true}
	onlyEF := Served{v1alpha1.OutputEnvoyFilter: true}
	for _, tc := range []struct {
		want   v1alpha1.OutputKind
		served Served
		got    v1alpha1.OutputKind // "" = error
	}{
		{v1alpha1.OutputAuto, all, v1alpha1.OutputTrafficExtension},
		{"", all, v1alpha1.OutputTrafficExtension},
		{v1alpha1.OutputAuto, noTE, v1alpha1.OutputWasmPlugin},
		{v1alpha1.OutputAuto, onlyEF, v1alpha1.OutputEnvoyFilter},
		{v1alpha1.OutputAuto, Served{}, ""},
		{v1alpha1.OutputWasmPlugin, all, v1alpha1.OutputWasmPlugin},
		{v1alpha1.OutputEnvoyFilter, all, v1alpha1.OutputEnvoyFilter},
		{v1alpha1.OutputTrafficExtension, noTE, ""},
		{"Bogus", all, ""},
	} {
		out, why, err := chooseOutput(tc.want, tc.served)
		var got v1alpha1.OutputKind
		if out != nil {
			got = out.kind
		}
		if got != tc.got || (err != nil) != (tc.got == "") {
			t.Errorf("chooseOutput(%q, %v) = %q, %v; want %q", tc.want, tc.served, got, err, tc.got)
		}
		if err == nil && !strings.Contains(why, string(got)) {
			t.Errorf("reason %q does not name %s", why, got)
		}
	}
}

// TestOutputEnvoyFilterNetwork renders a NETWORK extension as an
// EnvoyFilter pair (ECDS) that Istio's schema accepts, and a Gateway-targeted
// WasmPlugin, and orders two extensions by priority.
func TestOutputsAcceptedByIstioSchema(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	ctx := context.Background()
	pushT(t, reg, "acme/net:v1", oci.FormatCNCF, wasmtest.ProxyWasm)

	net := newExtension(ns, "tcp", reg.Ref("acme/net:v1"))
	net.Spec.Output, net.Spec.Type, net.Spec.Phase = v1alpha1.OutputEnvoyFilter, v1alpha1.PluginTypeNetwork, ""
	net.Spec.Envoy = &v1alpha1.EnvoyOptions{AllowOnHeadersStopIteration: ptrTo(true)}
	create(t, net)
	waitReady(t, ns, "tcp")
	var ef clientnet.EnvoyFilter
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tcp"}, &ef); err != nil {
		t.Fatal(err)
	}
	if len(ef.Spec.ConfigPatches) < 2 {
		t.Fatalf("EnvoyFilter has %d patches, want the filter and its extension config", len(ef.Spec.ConfigPatches))
	}

	gw := newExtension(ns, "edge", reg.Ref("acme/net:v1"))
	gw.Spec.TargetRefs = []v1alpha1.PolicyTargetReference{{Group: "gateway.networking.k8s.io", Kind: "Gateway", Name: "public"}}
	create(t, gw)
	waitReady(t, ns, "edge")
	wp, err := getWasmPlugin(ns, "edge")
	if err != nil {
		t.Fatal(err)
	}
	if len(wp.Spec.TargetRefs) != 1 || wp.Spec.TargetRefs[0].Kind != "Gateway" {
		t.Fatalf("targetRefs = %v", wp.Spec.TargetRefs)
	}

	for i, p := range []int32{5, 50} {
		e := newExtension(ns, fmt.Sprintf("prio-%d", i), reg.Ref("acme/net:v1"))
		e.Spec.Priority = ptrTo(p)
		create(t, e)
	}
	for i, want := range []int32{5, 50} {
		waitReady(t, ns, fmt.Sprintf("prio-%d", i))
		wp, err := getWasmPlugin(ns, fmt.Sprintf("prio-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if wp.Spec.Priority.GetValue() != want {
			t.Fatalf("prio-%d priority = %d, want %d", i, wp.Spec.Priority.GetValue(), want)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestModuleServer: the operator serves the verified .wasm proxies load for
// output EnvoyFilter, from memory; a replica that misses it (restart,
// eviction) re-pulls the pinned digest with the extension's credentials.
func TestModuleServer(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	wasm := wasmtest.Variant(21)
	pushT(t, reg, "acme/served:v1", oci.FormatCNCF, wasm)
	ext := newExtension(ns, "served", reg.Ref("acme/served:v1"))
	ext.Spec.Output = v1alpha1.OutputEnvoyFilter
	create(t, ext)
	got := waitReady(t, ns, "served")
	sha := got.Status.Module.SHA256

	var ef clientnet.EnvoyFilter
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "served"}, &ef); err != nil {
		t.Fatal(err)
	}
	url := moduleServer.URL(moduleServerURL, sha)
	if b, err := json.Marshal(&ef.Spec); err != nil || !strings.Contains(string(b), url) {
		t.Fatalf("EnvoyFilter does not load %s: %s %v", url, b, err)
	}
	if body := httpGet(t, url); string(body) != string(wasm) {
		t.Fatalf("served %d bytes, want the module's %d", len(body), len(wasm))
	}

	// A fresh replica: empty store, same token and refill.
	fresh := &cache.Server{Store: cache.NewStore(64 << 20), Key: moduleServer.Key, Refill: reconciler.RefillModule}
	srv := httptest.NewServer(fresh)
	defer srv.Close()
	reg.Reset()
	if body := httpGet(t, fresh.URL(srv.URL, sha)); string(body) != string(wasm) {
		t.Fatalf("refill served %d bytes, want the module's %d", len(body), len(wasm))
	}
	if c := reg.CountsFor("acme/served"); c.BlobGET != 1 {
		t.Fatalf("refill made %d blob GETs, want 1", c.BlobGET)
	}
	resp, err := http.Get(fresh.URL(srv.URL, strings.Repeat("0", 64)))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a module no extension renders: status %d, want 404", resp.StatusCode)
	}
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return b
}
