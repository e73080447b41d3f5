package controllers

import (
	"encoding/json"
	"testing"
	"unsafe"

	clientext "istio.io/client-go/pkg/apis/extensions/v1alpha1"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// decodeCached decodes js into a T and passes it through the cache's
// transform, as an informer does.
func decodeCached[T any](t *testing.T, js string) *T {
	t.Helper()
	o := new(T)
	if err := json.Unmarshal([]byte(js), o); err != nil {
		t.Fatal(err)
	}
	got, err := transformCached(o)
	if err != nil {
		t.Fatal(err)
	}
	return got.(*T)
}

// sameString says whether x and y are one copy of the same string.
func sameString(x, y string) bool { return x == y && unsafe.StringData(x) == unsafe.StringData(y) }

// TestCachedExtensionsShareStrings: two extensions of one module, decoded
// apart, hold one copy of the module's strings in the cache, and their own
// copies of what differs.
func TestCachedExtensionsShareStrings(t *testing.T) {
	decode := func(name string) *v1alpha1.WasmExtension {
		js := `{"metadata":{"name":"` + name + `","namespace":"team-a"},"spec":{"module":{"image":"r.example/acme/f:1"}},"status":{` +
			`"module":{"repository":"r.example/acme/f","digest":"` + newDigest + `","url":"http://m/x.wasm","delivery":"Cache",` +
			`"dryRun":{"input":"abc","entryPoint":"_initialize","duration":"180µs"}},` +
			`"rendered":[{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","name":"` + name + `"}],` +
			`"conditions":[{"type":"ModuleFetched","status":"True","reason":"Succeeded","message":"Fetched r.example/acme/f@` + newDigest + `"},` +
			`{"type":"ModuleValidated","status":"True","reason":"Succeeded","message":"Valid Proxy-Wasm module; dry run passed"},` +
			`{"type":"Ready","status":"True","reason":"Succeeded","message":"WasmPlugin ` + name + ` serves it"}]}}`
		return decodeCached[v1alpha1.WasmExtension](t, js)
	}
	a, b := decode("a"), decode("b")
	for _, f := range []struct{ name, x, y string }{
		{"digest", a.Status.Module.Digest, b.Status.Module.Digest},
		{"repository", a.Status.Module.Repository, b.Status.Module.Repository},
		{"url", a.Status.Module.URL, b.Status.Module.URL},
		{"image", a.Spec.Module.Image, b.Spec.Module.Image},
		{"namespace", a.Namespace, b.Namespace},
		{"ModuleFetched message", a.Status.Conditions[0].Message, b.Status.Conditions[0].Message},
		{"ModuleValidated message", a.Status.Conditions[1].Message, b.Status.Conditions[1].Message},
		{"reason", a.Status.Conditions[2].Reason, b.Status.Conditions[2].Reason},
		{"rendered kind", a.Status.Rendered[0].Kind, b.Status.Rendered[0].Kind},
	} {
		if !sameString(f.x, f.y) {
			t.Errorf("%s: two copies of %q", f.name, f.x)
		}
	}
	if a.Status.Module.DryRun != b.Status.Module.DryRun || a.Status.Module.DryRun.Duration.Duration.String() != "180µs" {
		t.Errorf("dry run records %+v and %+v: want one shared record of 180µs", a.Status.Module.DryRun, b.Status.Module.DryRun)
	}
	if !sameString(a.Status.Rendered[0].Name, a.Name) {
		t.Errorf("status.rendered name %q is a copy of the extension's name", a.Status.Rendered[0].Name)
	}
	if a.Status.Conditions[2].Message == b.Status.Conditions[2].Message || a.Name == b.Name {
		t.Fatalf("Ready messages %q and %q (or names) should differ", a.Status.Conditions[2].Message, b.Status.Conditions[2].Message)
	}
	// Another dry run is another record.
	other := a.Status.Module.DryRun.DeepCopy()
	other.Input = "other"
	cacheStrings.mu.Lock()
	defer cacheStrings.mu.Unlock()
	if d := cacheStrings.dryRunRecord(other); d == a.Status.Module.DryRun || a.Status.Module.DryRun.Input != "abc" {
		t.Fatal("a dry run of another input got the record of the first")
	}
}

// TestCachedRenderedShareMetadata: two objects rendered from one module,
// decoded apart, share the strings their metadata have in common, and keep
// their own names, UIDs and hashes (which stand for their specs and
// annotations).
func TestCachedRenderedShareMetadata(t *testing.T) {
	decode := func(name, url string) *clientext.WasmPlugin {
		js := `{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","metadata":{"name":"` + name + `","namespace":"team-a",` +
			`"annotations":{"wasmext.io/module":"oci://r/x@` + newDigest + `"},` +
			`"labels":{"app.kubernetes.io/managed-by":"wasmext","wasmext.io/extension":"` + name + `"},` +
			`"ownerReferences":[{"apiVersion":"wasmext.io/v1alpha1","kind":"WasmExtension","name":"` + name + `","uid":"u-` + name + `","controller":true,"blockOwnerDeletion":true}]},` +
			`"spec":{"url":"` + url + `","phase":"AUTHN"}}`
		return decodeCached[clientext.WasmPlugin](t, js)
	}
	a, b := decode("a", "http://m/x.wasm"), decode("b", "http://m/y.wasm")
	if a.Labels[cachedSpecHash] == "" || a.Labels[cachedSpecHash] == b.Labels[cachedSpecHash] || a.Annotations != nil {
		t.Errorf("labels %v and %v, annotations %v: want each its own spec hash, no annotations", a.Labels, b.Labels, a.Annotations)
	}
	key := func(m map[string]string, k string) string {
		for x := range m {
			if x == k {
				return x
			}
		}
		return ""
	}
	ra, rb := a.OwnerReferences[0], b.OwnerReferences[0]
	for _, f := range []struct{ name, x, y string }{
		{"namespace", a.Namespace, b.Namespace},
		{"owner kind", ra.Kind, rb.Kind},
		{"owner apiVersion", ra.APIVersion, rb.APIVersion},
		{"label value", a.Labels["app.kubernetes.io/managed-by"], b.Labels["app.kubernetes.io/managed-by"]},
		{"owner name and name", ra.Name, a.Name},
		{"extension label and name", a.Labels["wasmext.io/extension"], a.Name},
		{"label key", key(a.Labels, "wasmext.io/extension"), key(b.Labels, "wasmext.io/extension")},
	} {
		if !sameString(f.x, f.y) {
			t.Errorf("%s: two copies of %q", f.name, f.x)
		}
	}
	if ra.Controller != rb.Controller || !*ra.Controller || !*rb.BlockOwnerDeletion || ra.UID == rb.UID {
		t.Errorf("owner references %+v and %+v: want shared true flags and their own UIDs", ra, rb)
	}
	if b.Labels["wasmext.io/extension"] != "b" || b.Name != "b" {
		t.Errorf("labels %v of b: want its own extension label", b.Labels)
	}
}
