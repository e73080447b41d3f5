package controllers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/cache"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

func TestStoppedRendering(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	ext := func(sha string, rendered bool) *v1alpha1.WasmExtension {
		e := &v1alpha1.WasmExtension{}
		if sha != "" {
			e.Status.Module = &v1alpha1.ModuleStatus{SHA256: sha}
		}
		if rendered {
			e.Status.Rendered = []v1alpha1.RenderedObject{{Kind: "WasmPlugin", Name: "x"}}
		}
		return e
	}
	for _, tc := range []struct {
		name     string
		old, new *v1alpha1.WasmExtension
		want     string
	}{
		{"new extension", ext("", false), ext(a, true), ""},
		{"same module", ext(a, true), ext(a, true), ""},
		{"moved to another module", ext(a, true), ext(b, true), a},
		{"rendered objects removed", ext(a, true), ext(a, false), a},
		{"deleted", ext(a, true), nil, a},
		{"deleted, had rendered nothing", ext(a, false), nil, ""},
		{"deleted before any module", ext("", false), nil, ""},
		{"not an extension", nil, nil, ""},
	} {
		if got := stoppedRendering(tc.old, tc.new); got != tc.want {
			t.Errorf("%s: stoppedRendering = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestModuleServedWhileRendered: a module is served while an extension
// renders it and for the grace period after the extension moves to another
// module or is deleted, then no more; one the Store holds but nobody
// renders is a 404. The replica's fake clock measures the grace period.
func TestModuleServedWhileRendered(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	wasmA, wasmB := wasmtest.Variant(33), wasmtest.Variant(34)
	pushT(t, reg, "acme/moving:v1", oci.FormatCNCF, wasmA)
	pushT(t, reg, "acme/moving:v2", oci.FormatCNCF, wasmB)
	rep := startReplica(t, ns, cache.NewStore(64<<20))
	ext := newExtension(ns, "moving", reg.Ref("acme/moving:v1"))
	ext.Spec.Output = v1alpha1.OutputEnvoyFilter
	create(t, ext)
	shaA := waitReady(t, ns, "moving").Status.Module.SHA256
	waitServed(t, rep.srv.URL(rep.url, shaA), wasmA)

	// In the Store, never rendered: a 404 like any unknown path.
	unrendered := wasmtest.Variant(35)
	shaX := hexSHA(unrendered)
	if err := rep.srv.Store.Put(shaX, unrendered); err != nil {
		t.Fatal(err)
	}
	if code, _ := fetch(t, rep.srv.URL(rep.url, shaX)); code != http.StatusNotFound {
		t.Fatalf("GET of a stored module nobody renders = %d, want 404", code)
	}

	ext = getExt(t, ns, "moving")
	orig := ext.DeepCopy()
	ext.Spec.Module.Image = reg.Ref("acme/moving:v2")
	if err := k8s.Patch(context.Background(), ext, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	shaB := waitCondition(t, ns, "moving", v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSucceeded).Status.Module.SHA256
	if shaB == shaA {
		t.Fatal("the extension still renders the first module")
	}
	waitServed(t, rep.srv.URL(rep.url, shaB), wasmB)
	assertGrace(t, rep, shaA)

	if err := k8s.Delete(context.Background(), ext); err != nil {
		t.Fatal(err)
	}
	assertGrace(t, rep, shaB)
}

// assertGrace checks, once the replica's informer no longer shows sha
// rendered, that sha is still served, and that it is a 404 once the grace
// period has passed.
func assertGrace(t *testing.T, rep *replica, sha string) {
	t.Helper()
	eventually(t, "replica sees "+sha[:8]+" no longer rendered", func() error {
		if inUse, err := rep.srv.InUse(context.Background(), sha); err != nil || inUse {
			return fmt.Errorf("InUse = %v, %v", inUse, err)
		}
		return nil
	})
	url := rep.srv.URL(rep.url, sha)
	eventually(t, "served within grace", func() error { // the informer's handler calls Seen
		if code, _ := fetch(t, url); code != http.StatusOK {
			return fmt.Errorf("GET = %d", code)
		}
		return nil
	})
	rep.clock.Step(replicaGrace - time.Second)
	if code, _ := fetch(t, url); code != http.StatusOK {
		t.Fatalf("GET just before the grace period ends = %d, want 200", code)
	}
	rep.clock.Step(2 * time.Second)
	if code, _ := fetch(t, url); code != http.StatusNotFound {
		t.Fatalf("GET after the grace period = %d, want 404", code)
	}
}
