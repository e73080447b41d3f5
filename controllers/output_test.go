package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	clientnet "istio.io/client-go/pkg/apis/networking/v1alpha3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/cache"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/testenv"
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
	} {
		got, why, err := chooseOutput(tc.want, tc.served)
		if got != tc.got || (err != nil) != (tc.got == "") {
			t.Errorf("chooseOutput(%q, %v) = %q, %v; want %q", tc.want, tc.served, got, err, tc.got)
		}
		if err == nil && !strings.Contains(why, string(got)) {
			t.Errorf("reason %q does not name %s", why, got)
		}
	}
}

// TestOutputAuto runs on a cluster without the TrafficExtension CRD
// (the suite leaves it out): Auto renders a WasmPlugin and an explicit
// TrafficExtension is refused. Then the CRD is installed: Auto switches to
// a TrafficExtension, and the WasmPlugin is deleted only after it exists.
func TestOutputAuto(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	ctx := context.Background()
	pushT(t, reg, "acme/auto:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	ext := newExtension(ns, "auto", reg.Ref("acme/auto:v1"))
	ext.Spec.Output = v1alpha1.OutputAuto
	create(t, ext)
	waitReady(t, ns, "auto")
	assertMessageContains(t, getExt(t, ns, "auto"), v1alpha1.ConditionRendered, "Auto chose WasmPlugin")

	te := newExtension(ns, "explicit-te", reg.Ref("acme/auto:v1"))
	te.Spec.Output = v1alpha1.OutputTrafficExtension
	create(t, te)
	waitCondition(t, ns, "explicit-te", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonOutputUnavailable)

	// Watch for a gap while the output switches: at every look, one of the
	// two objects must exist.
	var gaps atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			_, errWP := getWasmPlugin(ns, "auto")
			errTE := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "auto"}, &clientext.TrafficExtension{})
			if apierrors.IsNotFound(errWP) && (apierrors.IsNotFound(errTE) || meta.IsNoMatchError(errTE)) {
				gaps.Add(1)
			}
		}
	}()
	crd, err := testenv.IstioCRD(testenv.CRDTrafficExtension)
	if err != nil {
		t.Fatal(err)
	}
	create(t, crd)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), crd) })
	eventually(t, "Auto switched to TrafficExtension and the WasmPlugin is gone", func() error {
		var got clientext.TrafficExtension
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "auto"}, &got); err != nil {
			return err
		}
		if !strings.Contains(got.Spec.GetWasm().GetUrl(), "@sha256:") {
			return fmt.Errorf("TrafficExtension url %q not digest-pinned", got.Spec.GetWasm().GetUrl())
		}
		if _, err := getWasmPlugin(ns, "auto"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("WasmPlugin still there: %v", err)
		}
		e := getExt(t, ns, "auto")
		if len(e.Status.Rendered) != 1 || e.Status.Rendered[0].Kind != "TrafficExtension" {
			return fmt.Errorf("status.rendered = %+v", e.Status.Rendered)
		}
		return nil
	})
	close(stop)
	<-done
	if n := gaps.Load(); n != 0 {
		t.Fatalf("the workloads went without the extension %d times while the output switched", n)
	}
	waitReady(t, ns, "explicit-te") // the CRD appeared: the explicit choice now renders
	assertMessageContains(t, getExt(t, ns, "auto"), v1alpha1.ConditionRendered, "Auto chose TrafficExtension")
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
	fresh := &cache.Server{Store: cache.NewStore(64 << 20), Token: moduleServer.Token, Refill: reconciler.RefillModule}
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
