package controllers

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/render"
)

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

func TestNeedsResolution(t *testing.T) {
	last := resolution{image: "r/x:v1", secretVersion: "7", generation: 3, requested: "a", at: t0}
	with := func(f func(*resolution)) resolution { r := last; f(&r); return r }
	for _, tc := range []struct {
		name string
		last *resolution
		want resolution
		now  time.Time
		need bool
	}{
		{"never resolved", nil, last, t0, true},
		{"same, within the interval", &last, last, t0.Add(9 * time.Minute), false},
		{"interval passed", &last, last, t0.Add(10 * time.Minute), true},
		{"image changed", &last, with(func(r *resolution) { r.image = "r/x:v2" }), t0, true},
		{"transport changed", &last, with(func(r *resolution) { r.insecure = true }), t0, true},
		{"pull Secret changed", &last, with(func(r *resolution) { r.secretVersion = "8" }), t0, true},
		{"new generation (pluginConfig edited)", &last, with(func(r *resolution) { r.generation = 4 }), t0, true},
		{"reconcile requested", &last, with(func(r *resolution) { r.requested = "b" }), t0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := needsResolution(tc.last, tc.want, tc.now, 10*time.Minute)
			if got != tc.need || (got && why == "") {
				t.Fatalf("needsResolution = %v (%q), want %v with a reason", got, why, tc.need)
			}
		})
	}
}

func TestNeedsVerification(t *testing.T) {
	spec := &v1alpha1.Verification{}
	key := verificationKey{digest: newDigest, generation: 2, trust: "k=5"}
	last := &verified{key: key, by: "key A"}
	for _, tc := range []struct {
		name       string
		spec       *v1alpha1.Verification
		last       *verified
		lastFailed bool
		want       verificationKey
		need       bool
	}{
		{"no spec.verify", nil, nil, false, key, false},
		{"never verified", spec, nil, false, key, true},
		{"covered", spec, last, false, key, false},
		{"earlier failure", spec, last, true, key, true},
		{"new digest", spec, last, false, verificationKey{digest: oldDigest, generation: 2, trust: "k=5"}, true},
		{"new generation", spec, last, false, verificationKey{digest: newDigest, generation: 3, trust: "k=5"}, true},
		{"trust material changed", spec, last, false, verificationKey{digest: newDigest, generation: 2, trust: "k=6"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := needsVerification(tc.spec, tc.last, tc.lastFailed, tc.want)
			if got != tc.need || (got && why == "") {
				t.Fatalf("needsVerification = %v (%q), want %v with a reason", got, why, tc.need)
			}
		})
	}
}

func TestNeedsPull(t *testing.T) {
	res := oci.Resolved{Repository: "r/x", Digest: digest.Digest(newDigest)}
	abi := "proxy_abi_version_0_2_1"
	for _, tc := range []struct {
		name     string
		m        *v1alpha1.ModuleStatus
		registry bool
		need     bool
	}{
		{"nothing rendered", nil, false, true},
		{"status describes it", &v1alpha1.ModuleStatus{Repository: "r/x", Digest: newDigest, ABI: abi}, false, false},
		{"another digest", &v1alpha1.ModuleStatus{Repository: "r/x", Digest: oldDigest, ABI: abi}, false, true},
		{"another repository", &v1alpha1.ModuleStatus{Repository: "r/y", Digest: newDigest, ABI: abi}, false, true},
		{"facts incomplete", &v1alpha1.ModuleStatus{Repository: "r/x", Digest: newDigest}, false, true},
		{"switch to Registry needs the layout", &v1alpha1.ModuleStatus{Repository: "r/x", Digest: newDigest, ABI: abi, Delivery: v1alpha1.DeliveryCache}, true, true},
		{"already rendered for Registry", &v1alpha1.ModuleStatus{Repository: "r/x", Digest: newDigest, ABI: abi, Delivery: v1alpha1.DeliveryRegistry}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := needsPull(tc.m, res, tc.registry); got != tc.need {
				t.Fatalf("needsPull = %v, want %v", got, tc.need)
			}
		})
	}
}

func TestLiveDrifted(t *testing.T) {
	ext := &v1alpha1.WasmExtension{ObjectMeta: metav1.ObjectMeta{Name: "f", UID: "u1"}}
	ext.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("WasmExtension"))
	owned := metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "WasmExtension", Name: "f", UID: "u1", Controller: ptr.To(true)}
	desired := &clientext.WasmPlugin{ObjectMeta: metav1.ObjectMeta{Name: "f", Labels: map[string]string{"a": "1"},
		Annotations: map[string]string{render.AnnotationModule: "oci://r/x@" + newDigest}, OwnerReferences: []metav1.OwnerReference{owned}}}
	desired.Spec.Url = "oci://r/x@" + newDigest
	spec := outputFor(v1alpha1.OutputWasmPlugin).spec
	for _, tc := range []struct {
		name    string
		edit    func(*clientext.WasmPlugin)
		drifted bool
	}{
		{"identical", func(*clientext.WasmPlugin) {}, false},
		{"labels and annotations others added", func(w *clientext.WasmPlugin) { w.Labels["x"] = "y"; w.Annotations["z"] = "w" }, false},
		{"spec edited", func(w *clientext.WasmPlugin) { w.Spec.Url = "oci://evil" }, true},
		{"label changed", func(w *clientext.WasmPlugin) { w.Labels["a"] = "0" }, true},
		{"module annotation removed", func(w *clientext.WasmPlugin) { delete(w.Annotations, render.AnnotationModule) }, true},
		{"module annotation changed", func(w *clientext.WasmPlugin) { w.Annotations[render.AnnotationModule] = "oci://evil" }, true},
		{"owner removed", func(w *clientext.WasmPlugin) { w.OwnerReferences = nil }, true},
		{"another owner", func(w *clientext.WasmPlugin) { w.OwnerReferences[0].UID = types.UID("u2") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := desired.DeepCopy()
			tc.edit(live)
			if got := liveDrifted(live, desired, spec, ext); got != tc.drifted {
				t.Fatalf("liveDrifted = %v, want %v", got, tc.drifted)
			}
			// The same object as the cache holds it: metadata and the
			// hash of its spec and the operator's annotations.
			cached, err := transformCached(live.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			if got := liveDrifted(cached.(client.Object), desired, spec, ext); got != tc.drifted {
				t.Fatalf("liveDrifted(cached) = %v, want %v", got, tc.drifted)
			}
		})
	}
}

// TestRenderedFor: an object in the cache is repaired only when it is the
// extension's own: controlled by it, or labeled as rendered for an
// extension of its name. Anyone else's object of that name (a cache of a
// kind whose CRD appeared after start-up holds them all) is left alone.
func TestRenderedFor(t *testing.T) {
	ext := &v1alpha1.WasmExtension{ObjectMeta: metav1.ObjectMeta{Name: "f", UID: "u1"}}
	ext.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("WasmExtension"))
	ours := map[string]string{render.LabelManagedBy: render.ManagedBy, render.LabelExtension: "f"}
	owner := func(uid types.UID) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "WasmExtension", Name: "f", UID: uid, Controller: ptr.To(true)}}
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		owners []metav1.OwnerReference
		want   bool
	}{
		{"controlled by it", nil, owner("u1"), true},
		{"its labels, owner reference removed", ours, nil, true},
		{"its labels, an earlier extension of the name", ours, owner("u0"), true},
		{"someone else's, no labels", nil, nil, false},
		{"someone else's, controlled by another object", map[string]string{"app": "x"}, owner("u9"), false},
		{"rendered for another extension", map[string]string{render.LabelManagedBy: render.ManagedBy, render.LabelExtension: "g"}, nil, false},
	} {
		live := &clientext.WasmPlugin{ObjectMeta: metav1.ObjectMeta{Name: "f", Labels: tc.labels, OwnerReferences: tc.owners}}
		if got := renderedFor(live, ext); got != tc.want {
			t.Errorf("%s: renderedFor = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestTransformCached: the cache keeps a rendered object's metadata and,
// in a label, the hash of its spec and the operator's annotations, not the
// spec, its status, its annotations or managedFields; other objects lose
// only their managedFields.
func TestTransformCached(t *testing.T) {
	wp := &clientext.WasmPlugin{ObjectMeta: metav1.ObjectMeta{Name: "f", Labels: map[string]string{"a": "1"},
		Annotations:   map[string]string{render.AnnotationModule: "oci://r/x@" + newDigest, "other": "x"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "wasmext"}}}}
	wp.Spec.Url = "oci://r/x@" + newDigest
	wp.Spec.PluginName = "f"
	wp.Status.ObservedGeneration = 3
	want, err := renderedHash(&wp.Spec, wp.Annotations)
	if err != nil {
		t.Fatal(err)
	}
	got, err := transformCached(wp.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	c := got.(*clientext.WasmPlugin)
	if c.Labels[cachedSpecHash] != want || c.Annotations != nil || c.Spec.Url != "" || c.Spec.PluginName != "" || c.Status.ObservedGeneration != 0 ||
		c.ManagedFields != nil || c.Labels["a"] != "1" || c.Name != "f" {
		t.Fatalf("cached WasmPlugin = %+v, want metadata without managedFields or annotations, label %s=%s, empty spec and status", c, cachedSpecHash, want)
	}
	for name, edit := range map[string]func(*clientext.WasmPlugin){
		"another spec":               func(w *clientext.WasmPlugin) { w.Spec.Url = "oci://r/y@" + newDigest },
		"another module":             func(w *clientext.WasmPlugin) { w.Annotations[render.AnnotationModule] = "oci://r/y@" + newDigest },
		"no module annotation":       func(w *clientext.WasmPlugin) { delete(w.Annotations, render.AnnotationModule) },
		"an empty module annotation": func(w *clientext.WasmPlugin) { w.Annotations[render.AnnotationModule] = "" },
	} {
		o := wp.DeepCopy()
		edit(o)
		if h, _ := renderedHash(&o.Spec, o.Annotations); h == want {
			t.Errorf("%s: hashes alike", name)
		}
	}
	o := wp.DeepCopy()
	o.Annotations["other"] = "y"
	if h, _ := renderedHash(&o.Spec, o.Annotations); h != want {
		t.Error("an annotation the operator does not set changed the hash")
	}
	ext := &v1alpha1.WasmExtension{ObjectMeta: metav1.ObjectMeta{Name: "e", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	ext.Spec.Module.Image = "r/x:1"
	got, err = transformCached(ext)
	if e := got.(*v1alpha1.WasmExtension); err != nil || e.ManagedFields != nil || e.Spec.Module.Image != "r/x:1" || e.Labels[cachedSpecHash] != "" {
		t.Fatalf("cached WasmExtension = %+v, %v: want it whole but for managedFields", e, err)
	}
}

// TestOwnAnnotations: every annotation the operator renders is one the
// cached hash covers (else a hand edit of it would go unseen).
func TestOwnAnnotations(t *testing.T) {
	ext := newExtension("ns", "f", "r.example/acme/f:1")
	m := render.Module{Repository: "r.example/acme/f", Digest: newDigest, SHA256: strings.Repeat("a", 64), CacheURL: "http://m/x.wasm"}
	wp, err := render.WasmPlugin(ext, m)
	if err != nil {
		t.Fatal(err)
	}
	te, err := render.TrafficExtension(ext, m)
	if err != nil {
		t.Fatal(err)
	}
	efs, err := render.EnvoyFilters(ext, m, render.EnvoyFilterOptions{ModuleURL: m.CacheURL, SHA256: m.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	objs := []client.Object{wp, te}
	for _, ef := range efs {
		objs = append(objs, ef)
	}
	seen := 0
	for _, o := range objs {
		for k := range o.GetAnnotations() {
			if !slices.Contains(ownAnnotations, k) {
				t.Errorf("%T %s has annotation %s, which ownAnnotations lacks", o, o.GetName(), k)
			}
			seen++
		}
	}
	if seen == 0 {
		t.Fatal("no rendered object has an annotation: the check checks nothing")
	}
}

func TestReconcileRequested(t *testing.T) {
	ext := &v1alpha1.WasmExtension{}
	if got := reconcileRequested(ext); got != "" {
		t.Fatalf("no annotation: %q", got)
	}
	ext.Annotations = map[string]string{v1alpha1.ReconcileRequestAnnotation: "now"}
	if got := reconcileRequested(ext); got != "now" {
		t.Fatalf("new request: %q, want now", got)
	}
	ext.Status.LastHandledReconcileAt = "now"
	if got := reconcileRequested(ext); got != "" {
		t.Fatalf("handled request: %q, want none", got)
	}
}

func TestJittered(t *testing.T) {
	d := 10 * time.Minute
	seen := map[time.Duration]bool{}
	for _, uid := range []types.UID{"a", "b", "c", "d", "e", "f"} {
		j := jittered(d, uid)
		if j < d || j >= d+d/10 {
			t.Fatalf("jittered(%v, %s) = %v, want in [d, 1.1d)", d, uid, j)
		}
		if j != jittered(d, uid) {
			t.Fatalf("jittered is not stable for %s", uid)
		}
		seen[j] = true
	}
	if len(seen) < 4 {
		t.Fatalf("jitter spreads 6 objects over only %d delays", len(seen))
	}
}

func TestMemory(t *testing.T) {
	var m memory[resolution] // the zero value is ready
	k := client.ObjectKey{Namespace: "a", Name: "x"}
	if m.get(k) != nil {
		t.Fatal("empty memory remembers")
	}
	m.put(k, resolution{image: "r/x:1"})
	m.put(client.ObjectKey{Namespace: "b", Name: "x"}, resolution{image: "r/y:1"})
	got := m.get(k)
	if got == nil || got.image != "r/x:1" {
		t.Fatalf("get = %+v, want r/x:1", got)
	}
	got.image = "changed"
	if m.get(k).image != "r/x:1" {
		t.Fatal("get hands out the remembered value itself, want a copy")
	}
	m.forget(k)
	if m.get(k) != nil || m.get(client.ObjectKey{Namespace: "b", Name: "x"}) == nil {
		t.Fatal("forget dropped the wrong key")
	}
}
