package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// waitServes waits until the extension's WasmPlugin serves the module at
// manifest digest d: status says d, and the WasmPlugin loads the URL and
// sha256 status records.
func waitServes(t *testing.T, ns, name, d string) {
	t.Helper()
	eventually(t, name+" serves "+d, func() error {
		wp, err := getWasmPlugin(ns, name)
		if err != nil {
			return err
		}
		m := getExt(t, ns, name).Status.Module
		if m == nil || m.Digest != d || wp.Spec.Url != m.URL || m.URL == "" {
			return fmt.Errorf("WasmPlugin url %s, status.module %+v", wp.Spec.Url, m)
		}
		if m.Delivery == v1alpha1.DeliveryCache && wp.Spec.Sha256 != m.SHA256 {
			return fmt.Errorf("WasmPlugin sha256 %q, module sha256 %s", wp.Spec.Sha256, m.SHA256)
		}
		return nil
	})
}

func update(t *testing.T, ns, name string, edit func(*v1alpha1.WasmExtension)) {
	t.Helper()
	ext := getExt(t, ns, name)
	edit(ext)
	if err := k8s.Update(context.Background(), ext); err != nil {
		t.Fatal(err)
	}
}

// TestNewGenerationReResolves: editing the spec resolves the tag again at
// once (one manifest request), so a broken version pushed to the same tag
// is seen and refused while the old one keeps serving, instead of being
// found only when the 10-minute interval passes.
func TestNewGenerationReResolves(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	d1 := pushT(t, reg, "acme/edited:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	create(t, newExtension(ns, "edited", reg.Ref("acme/edited:v1")))
	waitReady(t, ns, "edited")
	waitServes(t, ns, "edited", d1)

	pushT(t, reg, "acme/edited:v1", oci.FormatCNCF, wasmtest.NotProxyWasm)
	reg.Reset()
	update(t, ns, "edited", func(e *v1alpha1.WasmExtension) {
		e.Spec.PluginConfig = jsonValue(t, map[string]any{"header": "x-edited"})
	})
	waitCondition(t, ns, "edited", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonNotProxyWasm)
	waitServes(t, ns, "edited", d1)
	if c := reg.CountsFor("acme/edited"); c.ManifestHEAD+c.ManifestGET < 1 {
		t.Fatalf("registry traffic %+v: the tag was not resolved again after the spec changed", c)
	}
}

// TestReconcileRequest: the reconcile.wasmext.io/requestedAt annotation
// resolves the tag at once and is answered in status.lastHandledReconcileAt.
func TestReconcileRequest(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	pushT(t, reg, "acme/requested:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	create(t, newExtension(ns, "requested", reg.Ref("acme/requested:v1")))
	waitReady(t, ns, "requested")
	d2 := pushT(t, reg, "acme/requested:v1", oci.FormatCNCF, wasmtest.ProxyWasmV2)
	at := time.Now().UTC().Format(time.RFC3339Nano)
	update(t, ns, "requested", func(e *v1alpha1.WasmExtension) {
		e.Annotations = map[string]string{v1alpha1.ReconcileRequestAnnotation: at}
	})
	waitServes(t, ns, "requested", d2)
	eventually(t, "lastHandledReconcileAt", func() error {
		if got := getExt(t, ns, "requested").Status.LastHandledReconcileAt; got != at {
			return fmt.Errorf("lastHandledReconcileAt = %q, want %q", got, at)
		}
		return nil
	})
}

// TestSuspend: a suspended extension is not resolved, pulled or applied,
// and its status is left as it was; resuming picks up what changed.
func TestSuspend(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	d1 := pushT(t, reg, "acme/suspended:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	create(t, newExtension(ns, "suspended", reg.Ref("acme/suspended:v1")))
	waitReady(t, ns, "suspended")
	update(t, ns, "suspended", func(e *v1alpha1.WasmExtension) { e.Spec.Suspend = true })
	d2 := pushT(t, reg, "acme/suspended:v1", oci.FormatCNCF, wasmtest.ProxyWasmV2)
	update(t, ns, "suspended", func(e *v1alpha1.WasmExtension) {
		e.Annotations = map[string]string{v1alpha1.ReconcileRequestAnnotation: "now"}
	})
	reg.Reset()
	before := writes.in(ns)
	statusBefore := getExt(t, ns, "suspended").Status
	if res := reconcileNow(t, ns, "suspended"); res.RequeueAfter != 0 {
		t.Fatalf("a suspended extension is requeued: %+v", res)
	}
	if c := reg.CountsFor("acme/suspended"); c.Total != 0 {
		t.Fatalf("a suspended extension reached the registry: %+v", c)
	}
	if n := writes.in(ns) - before; n != 0 {
		t.Fatalf("a suspended extension made %d writes", n)
	}
	if got := getExt(t, ns, "suspended").Status; !statusEqual(got, statusBefore) {
		t.Fatalf("status changed while suspended: %+v", got)
	}
	waitServes(t, ns, "suspended", d1)
	update(t, ns, "suspended", func(e *v1alpha1.WasmExtension) { e.Spec.Suspend = false })
	waitServes(t, ns, "suspended", d2)
}

// requestReconcile asks for a reconcile now, as a user would with
// kubectl annotate (reconcile.wasmext.io/requestedAt).
func requestReconcile(t *testing.T, ns, name string) {
	t.Helper()
	at := time.Now().UTC().Format(time.RFC3339Nano)
	update(t, ns, name, func(e *v1alpha1.WasmExtension) {
		if e.Annotations == nil {
			e.Annotations = map[string]string{}
		}
		e.Annotations[v1alpha1.ReconcileRequestAnnotation] = at
	})
}
