package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

func TestMayShareWorkloads(t *testing.T) {
	sel := func(kv ...string) *v1alpha1.WasmExtensionSpec {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return &v1alpha1.WasmExtensionSpec{Selector: &v1alpha1.WorkloadSelector{MatchLabels: m}}
	}
	gw := func(name string) *v1alpha1.WasmExtensionSpec {
		return &v1alpha1.WasmExtensionSpec{TargetRefs: []v1alpha1.PolicyTargetReference{{Group: "gateway.networking.k8s.io", Kind: "Gateway", Name: name}}}
	}
	for _, tc := range []struct {
		name string
		a, b *v1alpha1.WasmExtensionSpec
		want bool
	}{
		{"same selector", sel("app", "a"), sel("app", "a"), true},
		{"different app", sel("app", "a"), sel("app", "b"), false},
		{"no selector selects all", &v1alpha1.WasmExtensionSpec{}, sel("app", "b"), true},
		{"disjoint keys may overlap", sel("app", "a"), sel("tier", "web"), true},
		{"same gateway", gw("public"), gw("public"), true},
		{"other gateway", gw("public"), gw("private"), false},
		{"selector vs targetRefs", sel("app", "a"), gw("public"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mayShareWorkloads(tc.a, tc.b); got != tc.want {
				t.Fatalf("mayShareWorkloads = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMixedOutputsWarned: an EnvoyFilter-rendered and a WasmPlugin-rendered
// extension on the same workloads are not ordered by their priorities;
// status says so.
func TestMixedOutputsWarned(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	pushT(t, reg, "acme/mixed:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	ef := newExtension(ns, "by-envoyfilter", reg.Ref("acme/mixed:v1"))
	ef.Spec.Output = v1alpha1.OutputEnvoyFilter
	ef.Spec.Selector = &v1alpha1.WorkloadSelector{MatchLabels: map[string]string{"app": "shop"}}
	create(t, ef)
	waitReady(t, ns, "by-envoyfilter")
	wp := newExtension(ns, "by-wasmplugin", reg.Ref("acme/mixed:v1"))
	wp.Spec.Selector = &v1alpha1.WorkloadSelector{MatchLabels: map[string]string{"app": "shop"}}
	create(t, wp)
	got := waitCondition(t, ns, "by-wasmplugin", v1alpha1.ConditionRendered, metav1.ConditionTrue, v1alpha1.ReasonSucceeded)
	assertMessageContains(t, got, v1alpha1.ConditionRendered, "by-envoyfilter (EnvoyFilter)")
	other := newExtension(ns, "elsewhere", reg.Ref("acme/mixed:v1"))
	other.Spec.Selector = &v1alpha1.WorkloadSelector{MatchLabels: map[string]string{"app": "billing"}}
	create(t, other)
	got = waitReady(t, ns, "elsewhere")
	if c := cond(got, v1alpha1.ConditionRendered); contains(c.Message, "warning") {
		t.Fatalf("an extension on other workloads was warned: %s", c.Message)
	}
}

// TestFamilyIndex: checkMixing lists, through familyIndex, only the
// extensions of the other family.
func TestFamilyIndex(t *testing.T) {
	ef, wp := outputFor(v1alpha1.OutputEnvoyFilter).gvk.Kind, outputFor(v1alpha1.OutputWasmPlugin).gvk.Kind
	te := outputFor(v1alpha1.OutputTrafficExtension).gvk.Kind
	rendered := func(kind string) *v1alpha1.WasmExtension {
		return &v1alpha1.WasmExtension{Status: v1alpha1.WasmExtensionStatus{Rendered: []v1alpha1.RenderedObject{{Kind: kind}}}}
	}
	for _, kind := range []string{wp, te} {
		if got := indexFamily(rendered(kind)); len(got) != 1 || got[0] != otherFamily(ef) || got[0] == otherFamily(kind) {
			t.Errorf("%s indexed as %v; otherFamily(EnvoyFilter) = %q, otherFamily(%s) = %q", kind, got, otherFamily(ef), kind, otherFamily(kind))
		}
	}
	if got := indexFamily(rendered(ef)); len(got) != 1 || got[0] != otherFamily(wp) || got[0] != otherFamily(te) {
		t.Errorf("EnvoyFilter indexed as %v, want %q", got, otherFamily(wp))
	}
	if got := indexFamily(&v1alpha1.WasmExtension{}); got != nil {
		t.Errorf("nothing rendered indexed as %v, want none", got)
	}
}

// TestCacheStripsManagedFields: the cache drops managedFields, which
// server-side apply makes large on every rendered object.
func TestCacheStripsManagedFields(t *testing.T) {
	tr := CacheOptions(Served{}, nil).DefaultTransform
	if tr == nil {
		t.Fatal("no DefaultTransform")
	}
	ext := &v1alpha1.WasmExtension{}
	ext.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "wasmext"}}
	out, err := tr(ext)
	if err != nil || len(out.(*v1alpha1.WasmExtension).ManagedFields) != 0 {
		t.Fatalf("after the transform: %v, %v", out, err)
	}
}

// TestBusy: the reconciler is busy while a reconcile runs and for busyFor
// after the last one.
func TestBusy(t *testing.T) {
	r := &WasmExtensionReconciler{}
	if r.Busy() {
		t.Fatal("busy before any reconcile")
	}
	r.activity.start()
	if !r.Busy() {
		t.Fatal("not busy with a reconcile in flight")
	}
	r.activity.done()
	if !r.Busy() {
		t.Fatal("not busy right after a reconcile")
	}
	r.activity.lastDone.Store(time.Now().Add(-2 * busyFor).UnixNano())
	if r.Busy() {
		t.Fatal("busy long after the last reconcile")
	}
}
