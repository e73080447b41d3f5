package controllers

import (
	"context"
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/verify/verifytest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

func reconcileNow(t *testing.T, ns, name string) ctrl.Result {
	t.Helper()
	res, err := reconciler.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}})
	if err != nil {
		t.Fatalf("reconcile %s/%s: %v", ns, name, err)
	}
	return res
}

// settle reconciles until a reconcile writes nothing (the cache has caught
// up with what the operator wrote).
func settle(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, ns+"/"+name+" settled", func() error {
		before := writes.in(ns)
		reconcileNow(t, ns, name)
		if n := writes.in(ns) - before; n != 0 {
			return fmt.Errorf("a reconcile made %d writes", n)
		}
		return nil
	})
}

// assertSteady: once Ready, three reconciles make zero API writes (Events
// included) and no registry request.
func assertSteady(t *testing.T, reg *ocitest.Registry, repo, ns, name string) {
	t.Helper()
	settle(t, ns, name)
	reg.Reset()
	before := writes.in(ns)
	for range 3 {
		reconcileNow(t, ns, name)
	}
	if n := writes.in(ns) - before; n != 0 {
		t.Fatalf("%s: steady-state reconciles made %d API writes, want 0", name, n)
	}
	if c := reg.CountsFor(repo); c.Total != 0 {
		t.Fatalf("%s: steady-state registry traffic %+v, want none (the tag is resolved once per interval)", name, c)
	}
}

// TestSteadyStateMakesNoWrites covers every output kind served here
// (WasmPlugin, EnvoyFilter; TrafficExtension in TestOutputAuto) and a
// verified extension. The first reconciles are counted too, so the counter
// is seen to count: at least the apply and the status of each (the first
// ones' status changes again when the EnvoyFilter appears beside them, see
// TestTwoWritesToReady for the count on the path to Ready), and one Normal
// Event each, queued apart.
func TestSteadyStateMakesNoWrites(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	ctx := context.Background()
	d := pushT(t, reg, "acme/steady:v1", oci.FormatCNCF, wasmtest.Variant(7))
	signer, pub := newKey(t)
	if err := verifytest.SignKeyBundle(ctx, reg.Host, "acme/steady", digest.Digest(d), signer); err != nil {
		t.Fatal(err)
	}
	keySecret(t, ns, "cosign-pub", pub)

	wp := newExtension(ns, "wasmplugin", reg.Ref("acme/steady:v1"))
	wp.Spec.PluginConfig = jsonValue(t, map[string]any{"header": "x-a", "n": 1.5, "list": []any{"a", true}})
	ef := newExtension(ns, "envoyfilter", reg.Ref("acme/steady:v1"))
	ef.Spec.Output = v1alpha1.OutputEnvoyFilter
	verified := keyVerified(ns, "verified", reg.Ref("acme/steady:v1"), "cosign-pub")
	for _, ext := range []*v1alpha1.WasmExtension{wp, ef, verified} {
		create(t, ext)
		waitReady(t, ns, ext.Name)
	}
	if n := writes.apiIn(ns); n < 3*2 {
		t.Fatalf("the counter saw %d API writes for 3 new extensions, want at least 6 (apply and status each)", n)
	}
	if n := writes.in(ns) - writes.apiIn(ns); n < 3 {
		t.Fatalf("the counter saw %d Events for 3 new extensions, want at least 3", n)
	}
	for _, name := range []string{"wasmplugin", "envoyfilter", "verified"} {
		assertSteady(t, reg, "acme/steady", ns, name)
	}
}

// TestTwoWritesToReady: extensions created at once, some sharing a module,
// one verified, each become Ready with exactly two API writes (the apply
// of the rendered object and one status patch: no finalizer, and the
// Normal Event queued apart, not on the path).
func TestTwoWritesToReady(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	ctx := context.Background()
	d := pushT(t, reg, "acme/two:v1", oci.FormatCNCF, wasmtest.Variant(21))
	pushT(t, reg, "acme/two:v2", oci.FormatCNCF, wasmtest.Variant(22))
	signer, pub := newKey(t)
	if err := verifytest.SignKeyBundle(ctx, reg.Host, "acme/two", digest.Digest(d), signer); err != nil {
		t.Fatal(err)
	}
	keySecret(t, ns, "cosign-pub", pub)
	exts := []*v1alpha1.WasmExtension{keyVerified(ns, "verified", reg.Ref("acme/two:v1"), "cosign-pub")}
	for i := range 5 {
		exts = append(exts, newExtension(ns, fmt.Sprint("e", i), reg.Ref(fmt.Sprintf("acme/two:v%d", 1+i%2))))
	}
	for _, ext := range exts {
		create(t, ext)
	}
	for _, ext := range exts {
		waitReady(t, ns, ext.Name)
	}
	if n, want := writes.apiIn(ns), int64(2*len(exts)); n != want {
		t.Fatalf("%d API writes for %d extensions to Ready, want %d (apply and status each)", n, len(exts), want)
	}
}
