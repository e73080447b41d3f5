package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// newSemverExtension tracks rng in reg's repository repo.
func newSemverExtension(ns, name string, reg *ocitest.Registry, repo, rng string) *v1alpha1.WasmExtension {
	ext := newExtension(ns, name, reg.Ref(repo))
	ext.Spec.Module.Semver = rng
	return ext
}

// waitTag waits until status.module says tag at digest d, and the
// WasmPlugin serves it.
func waitTag(t *testing.T, ns, name, tag, d string) {
	t.Helper()
	waitServes(t, ns, name, d)
	if m := getExt(t, ns, name).Status.Module; m.Tag != tag {
		t.Fatalf("status.module.tag = %q at %s, want %q", m.Tag, m.Digest, tag)
	}
}

// requestAndWait asks for a reconcile and waits until it was handled.
func requestAndWait(t *testing.T, ns, name string) {
	t.Helper()
	requestReconcile(t, ns, name)
	at := getExt(t, ns, name).Annotations[v1alpha1.ReconcileRequestAnnotation]
	eventually(t, "reconcile request handled", func() error {
		if got := getExt(t, ns, name).Status.LastHandledReconcileAt; got != at {
			return fmt.Errorf("lastHandledReconcileAt = %q, want %q", got, at)
		}
		return nil
	})
}

// eventsWith returns the Events of reason about extension name.
func eventsWith(t *testing.T, ns, name, reason string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// wantOneListingNoPull fails unless the registry served one tag list
// request and one manifest HEAD (the resolve), and nothing read to pull.
func wantOneListingNoPull(t *testing.T, c ocitest.Counts, what string) {
	t.Helper()
	if c.Other != 1 || c.ManifestHEAD != 1 || c.ManifestGET != 0 || c.BlobGET != 0 || c.BlobHEAD != 0 {
		t.Fatalf("%s: registry traffic %+v, want one tag list request, one manifest HEAD and no pull", what, c)
	}
}

// TestSemverTracksHighest: of 1.0.0, 1.2.0, 2.0.0 and latest, the range
// ">=1.0.0 <2.0.0" renders 1.2.0; a pushed 1.3.0 is rendered at the next
// resolution; a broken 1.4.0 is refused (Reason, TagRefused Event naming
// tag and digest) while 1.3.0 keeps serving, and asking again neither pulls
// nor inspects it; a fixed 1.4.1 is rendered.
func TestSemverTracksHighest(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	pushT(t, reg, "acme/tracked:1.0.0", oci.FormatCNCF, wasmtest.Variant(100))
	d120 := pushT(t, reg, "acme/tracked:1.2.0", oci.FormatCNCF, wasmtest.Variant(120))
	pushT(t, reg, "acme/tracked:2.0.0", oci.FormatCNCF, wasmtest.Variant(200))
	pushT(t, reg, "acme/tracked:latest", oci.FormatCNCF, wasmtest.Variant(999))
	create(t, newSemverExtension(ns, "tracked", reg, "acme/tracked", ">=1.0.0 <2.0.0"))
	waitReady(t, ns, "tracked")
	waitTag(t, ns, "tracked", "1.2.0", d120)

	d130 := pushT(t, reg, "acme/tracked:1.3.0", oci.FormatCNCF, wasmtest.Variant(130))
	reg.Reset()
	requestReconcile(t, ns, "tracked")
	waitTag(t, ns, "tracked", "1.3.0", d130)
	if c := reg.CountsFor("acme/tracked"); c.Other != 1 || c.ManifestHEAD != 1 {
		t.Fatalf("registry traffic %+v, want one tag list request and one manifest HEAD", c)
	}

	d140 := pushT(t, reg, "acme/tracked:1.4.0", oci.FormatCNCF, wasmtest.NotProxyWasm)
	requestReconcile(t, ns, "tracked")
	got := waitCondition(t, ns, "tracked", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonNotProxyWasm)
	if m := got.Status.Module; m.Tag != "1.3.0" || m.Digest != d130 {
		t.Fatalf("status.module = %s at %s while 1.4.0 is refused, want 1.3.0 at %s", m.Tag, m.Digest, d130)
	}
	waitServes(t, ns, "tracked", d130)
	waitEvent(t, ns, "tracked", "Warning", EventTagRefused)
	refused := eventsWith(t, ns, "tracked", EventTagRefused)
	if n := refused[0].Note; !strings.Contains(n, "tag 1.4.0") || !strings.Contains(n, d140) || !strings.Contains(n, "tag 1.3.0") {
		t.Fatalf("TagRefused note %q does not name the refused tag and digest and the one serving", n)
	}

	// The next resolution picks 1.4.0 again: the refusal is reported from
	// memory, nothing is pulled, no second Event.
	ready := meta.FindStatusCondition(getExt(t, ns, "tracked").Status.Conditions, v1alpha1.ConditionReady)
	reg.Reset()
	requestAndWait(t, ns, "tracked")
	wantOneListingNoPull(t, reg.CountsFor("acme/tracked"), "a refused version picked again")
	after := getExt(t, ns, "tracked")
	if c := meta.FindStatusCondition(after.Status.Conditions, v1alpha1.ConditionReady); c.Reason != ready.Reason || c.Message != ready.Message {
		t.Fatalf("Ready changed when the refused version was picked again: %+v, was %+v", c, ready)
	}
	if n := len(eventsWith(t, ns, "tracked", EventTagRefused)); n != 1 {
		t.Fatalf("%d TagRefused Events, want 1 (the refusal flaps)", n)
	}

	d141 := pushT(t, reg, "acme/tracked:1.4.1", oci.FormatCNCF, wasmtest.Variant(141))
	requestReconcile(t, ns, "tracked")
	waitReady(t, ns, "tracked")
	waitTag(t, ns, "tracked", "1.4.1", d141)
}

// TestSemverSteadyState: with nothing new, a resolution lists the tags once
// (one request: the listing is one bounded page) and resolves the chosen
// tag, and pulls nothing.
func TestSemverSteadyState(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	for i := range 30 {
		pushT(t, reg, fmt.Sprintf("acme/steady:1.%d.0", i), oci.FormatCNCF, wasmtest.Variant(i))
	}
	d := pushT(t, reg, "acme/steady:1.30.0", oci.FormatCNCF, wasmtest.Variant(30))
	create(t, newSemverExtension(ns, "steady", reg, "acme/steady", "^1.0.0"))
	waitReady(t, ns, "steady")
	waitTag(t, ns, "steady", "1.30.0", d)
	for i := range 2 {
		reg.Reset()
		requestAndWait(t, ns, "steady")
		wantOneListingNoPull(t, reg.CountsFor("acme/steady"), fmt.Sprintf("resolution %d at steady state", i+1))
	}
	waitTag(t, ns, "steady", "1.30.0", d)
}

// TestSemverDryRunRefusal: a new version whose dry run fails
// (ConfigureFails) is refused with its Reason; picked again, it is not run
// again.
func TestSemverDryRunRefusal(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	d1 := pushT(t, reg, "acme/dryrun:1.0.0", oci.FormatCNCF, wasmtest.Variant(1))
	create(t, newSemverExtension(ns, "dryrun", reg, "acme/dryrun", ">=1.0.0"))
	waitTag(t, ns, "dryrun", "1.0.0", d1)
	pushT(t, reg, "acme/dryrun:1.1.0", oci.FormatCNCF, wasmtest.ConfigureFails)
	requestReconcile(t, ns, "dryrun")
	waitCondition(t, ns, "dryrun", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonConfigureFailed)
	waitTag(t, ns, "dryrun", "1.0.0", d1)
	sum := sha256.Sum256(wasmtest.ConfigureFails)
	sb := reconciler.Sandbox.(*countingSandbox)
	calls, runs := sb.counts(hex.EncodeToString(sum[:]))
	if runs == 0 {
		t.Fatal("the refused module was never dry-run")
	}
	requestAndWait(t, ns, "dryrun")
	// Not even asked (the sandbox would answer a remembered result).
	if again, _ := sb.counts(hex.EncodeToString(sum[:])); again != calls {
		t.Fatalf("the sandbox was called %d times for the refused module after it was picked again, want %d", again, calls)
	}
	waitEvent(t, ns, "dryrun", "Warning", EventTagRefused)
}

// TestSemverInvalidRange: Stalled InvalidSemver, and the registry is not
// asked.
func TestSemverInvalidRange(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	pushT(t, reg, "acme/invalid:1.0.0", oci.FormatCNCF, wasmtest.ProxyWasm)
	reg.Reset()
	create(t, newSemverExtension(ns, "invalid", reg, "acme/invalid", ">=1.0.0 <"))
	got := waitCondition(t, ns, "invalid", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonInvalidSemver)
	if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionModuleFetched); c == nil || c.Reason != v1alpha1.ReasonInvalidSemver {
		t.Fatalf("ModuleFetched = %+v, want InvalidSemver", c)
	}
	if c := reg.CountsFor("acme/invalid"); c.Total != 0 {
		t.Fatalf("an invalid range reached the registry: %+v", c)
	}
	if got.Status.Module != nil {
		t.Fatalf("status.module = %+v with an invalid range", got.Status.Module)
	}
}

// TestSemverNoMatch: Stalled NoMatchingTag, the message quoting tags seen;
// prereleases do not match a range without one.
func TestSemverNoMatch(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	pushT(t, reg, "acme/nomatch:1.0.0", oci.FormatCNCF, wasmtest.Variant(1))
	pushT(t, reg, "acme/nomatch:2.0.0-rc.1", oci.FormatCNCF, wasmtest.Variant(2))
	pushT(t, reg, "acme/nomatch:latest", oci.FormatCNCF, wasmtest.Variant(3))
	create(t, newSemverExtension(ns, "nomatch", reg, "acme/nomatch", ">=2.0.0"))
	got := waitCondition(t, ns, "nomatch", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonNoMatchingTag)
	msg := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled).Message
	for _, want := range []string{">=2.0.0", "3 tags", "2.0.0-rc.1", "1.0.0", "latest"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Stalled message %q lacks %q", msg, want)
		}
	}
	if got.Status.Module != nil || len(got.Status.Rendered) != 0 {
		t.Fatalf("something was rendered without a match: %+v %+v", got.Status.Module, got.Status.Rendered)
	}
}
