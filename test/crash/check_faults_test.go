package crash

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/render"
)

const fixtureServer = "http://127.0.0.1:1"

// fixture is two Ready extensions on two modules, each with its WasmPlugin:
// what check must accept.
func fixture() ([]v1alpha1.WasmExtension, []rendered, map[types.NamespacedName]module) {
	mods := []module{
		{image: "r/a:1", repo: "r/a", digest: "sha256:da", sha256: "aa"},
		{image: "r/b:1", repo: "r/b", digest: "sha256:db", sha256: "bb"},
	}
	var exts []v1alpha1.WasmExtension
	var objs []rendered
	want := map[types.NamespacedName]module{}
	for i, name := range []string{"x", "y"} {
		m := mods[i]
		e := v1alpha1.WasmExtension{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name), Generation: 2},
			Spec:       v1alpha1.WasmExtensionSpec{Module: v1alpha1.ModuleSource{Image: m.image}, Output: v1alpha1.OutputWasmPlugin},
		}
		e.Status.ObservedGeneration = 2
		e.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, ObservedGeneration: 2}}
		url := fixtureServer + "/modules/" + m.sha256
		e.Status.Module = &v1alpha1.ModuleStatus{Repository: m.repo, Digest: m.digest, SHA256: m.sha256, URL: url}
		exts = append(exts, e)
		objs = append(objs, rendered{
			kind: "WasmPlugin", namespace: "ns", name: name, url: url, sha256: m.sha256,
			labels: map[string]string{render.LabelManagedBy: render.ManagedBy, render.LabelExtension: name},
			owner:  &metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "WasmExtension", Name: name, UID: e.UID, Controller: new(true)},
		})
		want[types.NamespacedName{Namespace: "ns", Name: name}] = m
	}
	return exts, objs, want
}

// TestCheckFindsEachFault shows that check accepts the fixture and reports
// each fault the crash test looks for.
func TestCheckFindsEachFault(t *testing.T) {
	exts, objs, want := fixture()
	if p := check(exts, objs, want, fixtureServer); len(p) != 0 {
		t.Fatalf("check(fixture) = %q, want no problem", p)
	}
	for _, tc := range []struct {
		name  string
		fault func(e []v1alpha1.WasmExtension, o *[]rendered, w map[types.NamespacedName]module)
		want  string
	}{
		{"not Ready for its generation", func(e []v1alpha1.WasmExtension, _ *[]rendered, _ map[types.NamespacedName]module) {
			e[0].Generation = 3
		}, "ns/x: not Ready for generation 3"},
		{"stale module", func(_ []v1alpha1.WasmExtension, _ *[]rendered, w map[types.NamespacedName]module) {
			w[types.NamespacedName{Namespace: "ns", Name: "x"}] = module{image: "r/b:1", repo: "r/b", digest: "sha256:db", sha256: "bb"}
		}, "ns/x: status.module is r/a@sha256:da (sha256 aa), want r/b@sha256:db"},
		{"rendered twice", func(_ []v1alpha1.WasmExtension, o *[]rendered, _ map[types.NamespacedName]module) {
			dup := (*o)[0]
			dup.kind = "TrafficExtension"
			*o = append(*o, dup)
		}, "ns/x: controls 2 rendered objects"},
		{"not rendered", func(_ []v1alpha1.WasmExtension, o *[]rendered, _ map[types.NamespacedName]module) {
			*o = (*o)[1:]
		}, "ns/x: controls 0 rendered objects"},
		{"plugin loads another module", func(_ []v1alpha1.WasmExtension, o *[]rendered, _ map[types.NamespacedName]module) {
			(*o)[0].sha256 = "bb"
		}, `ns/x: WasmPlugin ns/x loads "http://127.0.0.1:1/modules/aa" (sha256 "bb")`},
		{"orphan of a deleted extension", func(_ []v1alpha1.WasmExtension, o *[]rendered, _ map[types.NamespacedName]module) {
			*o = append(*o, rendered{kind: "WasmPlugin", namespace: "ns", name: "gone", labels: (*o)[0].labels,
				owner: &metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "WasmExtension", Name: "gone", UID: "uid-gone"}})
		}, "WasmPlugin ns/gone: orphaned: its controller WasmExtension gone (uid uid-gone) is gone"},
		{"orphan without owner", func(_ []v1alpha1.WasmExtension, o *[]rendered, _ map[types.NamespacedName]module) {
			*o = append(*o, rendered{kind: "EnvoyFilter", namespace: "ns", name: "z", labels: (*o)[0].labels})
		}, "EnvoyFilter ns/z: orphaned: labeled app.kubernetes.io/managed-by=wasmext, and no WasmExtension controls it"},
		{"finalizer would miss it", func(_ []v1alpha1.WasmExtension, o *[]rendered, _ map[types.NamespacedName]module) {
			(*o)[0].labels = map[string]string{render.LabelManagedBy: render.ManagedBy}
		}, "WasmPlugin ns/x: labels map[app.kubernetes.io/managed-by:wasmext]: the finalizer"},
		{"missing extension", func(_ []v1alpha1.WasmExtension, _ *[]rendered, w map[types.NamespacedName]module) {
			w[types.NamespacedName{Namespace: "ns", Name: "w"}] = module{}
		}, "ns/w: missing"},
		{"one module at two URLs", func(e []v1alpha1.WasmExtension, o *[]rendered, w map[types.NamespacedName]module) {
			w[types.NamespacedName{Namespace: "ns", Name: "y"}] = w[types.NamespacedName{Namespace: "ns", Name: "x"}]
			e[1].Status.Module.Repository, e[1].Status.Module.Digest, e[1].Status.Module.SHA256 = "r/a", "sha256:da", "aa"
			(*o)[1].sha256 = "aa"
		}, "sha256 aa is served at 2 URLs"},
		{"URL not the module server's", func(e []v1alpha1.WasmExtension, o *[]rendered, _ map[types.NamespacedName]module) {
			e[0].Status.Module.URL, (*o)[0].url = "oci://r/a@sha256:da", "oci://r/a@sha256:da"
		}, `ns/x: status.module.url "oci://r/a@sha256:da" is not the module server's`},
	} {
		exts, objs, want := fixture()
		tc.fault(exts, &objs, want)
		p := check(exts, objs, want, fixtureServer)
		if !strings.Contains(strings.Join(p, "\n"), tc.want) {
			t.Errorf("%s: check = %q, want a problem containing %q", tc.name, p, tc.want)
		}
	}
}
