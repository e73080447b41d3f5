package controllers

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/testenv"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// TestOutputAuto runs on a cluster without the TrafficExtension CRD (the
// suite leaves it out): Auto renders a WasmPlugin and an explicit
// TrafficExtension is refused. Then the CRD is installed: Auto switches to
// a TrafficExtension, and the WasmPlugin is deleted only after it exists
// (proved by the order of the two in etcd, not by sampling). At steady
// state the TrafficExtension costs no write. Then the CRD is removed while
// the operator runs: Auto falls back to a WasmPlugin without a restart.
func TestOutputAuto(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
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

	deleted := watchDeletion(t, ns, "auto")
	crd, err := testenv.IstioCRD(testenv.CRDTrafficExtension)
	if err != nil {
		t.Fatal(err)
	}
	create(t, crd)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), crd) })
	var deletedAt uint64
	select {
	case deletedAt = <-deleted:
	case <-time.After(waitFor):
		t.Fatal("the WasmPlugin was not deleted after the TrafficExtension CRD appeared")
	}
	var got clientext.TrafficExtension
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "auto"}, &got); err != nil {
		t.Fatalf("the WasmPlugin was deleted and no TrafficExtension exists: %v", err)
	}
	if createdAt := revision(t, got.ResourceVersion); createdAt >= deletedAt {
		t.Fatalf("TrafficExtension written at revision %d, WasmPlugin deleted at %d: the workloads went without the extension", createdAt, deletedAt)
	}
	if m := getExt(t, ns, "auto").Status.Module; got.Spec.GetWasm().GetUrl() != moduleServer.URL(moduleServerURL, m.SHA256) ||
		got.Spec.GetWasm().GetSha256() != m.SHA256 {
		t.Fatalf("TrafficExtension wasm %v, want the module server's URL and sha256 of %+v", got.Spec.GetWasm(), m)
	}
	waitRendered(t, ns, "auto", "TrafficExtension")
	waitReady(t, ns, "explicit-te") // the CRD appeared: the explicit choice now renders
	assertMessageContains(t, getExt(t, ns, "auto"), v1alpha1.ConditionRendered, "Auto chose TrafficExtension")
	assertSteady(t, reg, "acme/auto", ns, "auto")

	if err := k8s.Delete(context.Background(), crd); err != nil {
		t.Fatal(err)
	}
	waitRendered(t, ns, "auto", "WasmPlugin")
	waitReady(t, ns, "auto")
	assertMessageContains(t, getExt(t, ns, "auto"), v1alpha1.ConditionRendered, "Auto chose WasmPlugin")
	waitCondition(t, ns, "explicit-te", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonOutputUnavailable)
	if _, err := getWasmPlugin(ns, "auto"); err != nil {
		t.Fatalf("no WasmPlugin after the TrafficExtension CRD was removed: %v", err)
	}
}

// watchDeletion watches the WasmPlugin ns/name and sends the etcd revision
// at which it is deleted.
func watchDeletion(t *testing.T, ns, name string) <-chan uint64 {
	t.Helper()
	wc, err := client.NewWithWatch(testConfig, client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(context.Background(), &clientext.WasmPluginList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	out := make(chan uint64, 1)
	go func() {
		for ev := range w.ResultChan() {
			if wp, ok := ev.Object.(*clientext.WasmPlugin); ok && ev.Type == watch.Deleted && wp.Name == name {
				rv, _ := strconv.ParseUint(wp.ResourceVersion, 10, 64)
				out <- rv
				return
			}
		}
	}()
	return out
}

// revision reads a resourceVersion as the etcd revision it is (envtest
// runs one etcd, so revisions of all kinds share one order).
func revision(t *testing.T, rv string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q: %v", rv, err)
	}
	return n
}

func waitRendered(t *testing.T, ns, name, kind string) {
	t.Helper()
	eventually(t, name+" renders a "+kind, func() error {
		e := getExt(t, ns, name)
		if len(e.Status.Rendered) != 1 || e.Status.Rendered[0].Kind != kind {
			return fmt.Errorf("status.rendered = %+v", e.Status.Rendered)
		}
		return nil
	})
}
