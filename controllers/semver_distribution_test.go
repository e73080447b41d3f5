package controllers

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// TestSemverRealRegistry: semver tracking against the CNCF distribution
// registry process (its tag list API, not the in-process registry's): the
// highest match is rendered, a new release is picked up, and with the
// registry stopped the listing fails as an outage that changes nothing.
func TestSemverRealRegistry(t *testing.T) {
	dist := startDistribution(t)
	ns := namespace(t)
	push := func(tag string, wasm []byte) string {
		t.Helper()
		d, err := ocitest.Push(context.Background(), dist.addr, "acme/tracked:"+tag, oci.FormatCNCF, wasm)
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	push("1.0.0", wasmtest.Variant(7100))
	d12 := push("1.2.0", wasmtest.Variant(7120))
	push("2.0.0", wasmtest.Variant(7200))
	push("latest", wasmtest.Variant(7200))
	ext := newExtension(ns, "tracked", dist.addr+"/acme/tracked")
	ext.Spec.Module.Semver = ">=1.0.0 <2.0.0"
	create(t, ext)
	waitTag(t, ns, "tracked", "1.2.0", d12)

	d13 := push("1.3.0", wasmtest.Variant(7130))
	requestReconcile(t, ns, "tracked")
	waitTag(t, ns, "tracked", "1.3.0", d13)

	dist.stop(t)
	requestReconcile(t, ns, "tracked")
	got := waitCondition(t, ns, "tracked", v1alpha1.ConditionModuleFetched, metav1.ConditionFalse, v1alpha1.ReasonRegistryUnavailable)
	assertServesThroughOutage(t, got, d13)
	if m := got.Status.Module; m.Tag != "1.3.0" {
		t.Fatalf("status.module.tag = %q during the outage, want 1.3.0", m.Tag)
	}
	dist.start(t)
	waitCondition(t, ns, "tracked", v1alpha1.ConditionModuleFetched, metav1.ConditionTrue, v1alpha1.ReasonSucceeded)
}
