package controllers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"oras.land/oras-go/v2/registry/remote/auth"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// pushT pushes wasm in format f to reg and returns the manifest digest.
func pushT(t *testing.T, reg *ocitest.Registry, repoTag string, f oci.Format, wasm []byte, opts ...ocitest.PushOption) string {
	t.Helper()
	d, err := ocitest.Push(context.Background(), reg.Host, repoTag, f, wasm, opts...)
	if err != nil {
		t.Fatalf("push %s (%s): %v", repoTag, f, err)
	}
	return d.String()
}

// assertCurrent checks kstatus computes Current: what Flux and Argo CD use.
func assertCurrent(t *testing.T, ext *v1alpha1.WasmExtension) {
	t.Helper()
	m, err := runtimeToUnstructured(ext)
	if err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(m)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != status.CurrentStatus {
		t.Fatalf("kstatus = %s (%s), want Current", res.Status, res.Message)
	}
}

func runtimeToUnstructured(o any) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	return &unstructured.Unstructured{Object: m}, err
}

// TestFormats applies one extension per packaging format and checks each
// ends Ready with a WasmPlugin that loads the verified bytes from the
// module server (delivery Cache, the default): every format loads.
func TestFormats(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	cases := []struct {
		name   string
		format oci.Format
		opts   []ocitest.PushOption
	}{
		{"cncf", oci.FormatCNCF, nil},
		{"wasm-to-oci", oci.FormatWasmToOCI, nil},
		{"solo", oci.FormatSolo, nil},
		{"solo-no-config", oci.FormatSolo, []ocitest.PushOption{ocitest.SoloConfig(false)}},
		{"docker-image", oci.FormatDockerImage, nil},
		{"oci-image", oci.FormatOCIImage, []ocitest.PushOption{ocitest.Gzip(false)}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wasm := wasmtest.Variant(100 + i)
			d := pushT(t, reg, "formats/"+tc.name+":v1", tc.format, wasm, tc.opts...)
			ext := newExtension(ns, tc.name, reg.Ref("formats/"+tc.name+":v1"))
			create(t, ext)
			got := waitReady(t, ns, tc.name)
			assertCurrent(t, got)
			if got.Status.Module.Digest != d || got.Status.Module.Format != string(tc.format) {
				t.Fatalf("status.module = %+v, want digest %s format %s", got.Status.Module, d, tc.format)
			}
			if got.Status.Module.ABI != "proxy_abi_version_0_2_1" || got.Status.Module.Size != int64(len(wasm)) {
				t.Fatalf("status.module = %+v, want ABI 0_2_1 and size %d", got.Status.Module, len(wasm))
			}
			wp, err := getWasmPlugin(ns, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if want := moduleServer.URL(moduleServerURL, got.Status.Module.SHA256); wp.Spec.Url != want || wp.Spec.Sha256 != got.Status.Module.SHA256 {
				t.Fatalf("WasmPlugin url = %q sha256 %q, want %q and %s", wp.Spec.Url, wp.Spec.Sha256, want, got.Status.Module.SHA256)
			}
			if wp.Spec.ImagePullSecret != "" || got.Status.Module.Delivery != v1alpha1.DeliveryCache || got.Status.Module.URL != wp.Spec.Url {
				t.Fatalf("delivery Cache: pull secret %q, status.module %+v", wp.Spec.ImagePullSecret, got.Status.Module)
			}
			if !metav1.IsControlledBy(wp, got) {
				t.Fatalf("WasmPlugin is not controlled by the extension: %+v", wp.OwnerReferences)
			}
		})
	}
}

// TestTagMovedAndLastKnownGood: a tag moved to a new good digest is
// rendered; a tag moved to a broken module leaves the working WasmPlugin
// untouched and says why.
func TestTagMovedAndLastKnownGood(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	d1 := pushT(t, reg, "acme/filter:stable", oci.FormatCNCF, wasmtest.ProxyWasm)
	ext := newExtension(ns, "filter", reg.Ref("acme/filter:stable"))
	create(t, ext)
	waitReady(t, ns, "filter")

	d2 := pushT(t, reg, "acme/filter:stable", oci.FormatCNCF, wasmtest.ProxyWasmV2)
	if d1 == d2 {
		t.Fatal("fixtures must differ")
	}
	requestReconcile(t, ns, "filter")
	waitServes(t, ns, "filter", d2)
	good, _ := getWasmPlugin(ns, "filter")

	for _, bad := range []struct {
		wasm   []byte
		reason string
	}{
		{wasmtest.NotProxyWasm, v1alpha1.ReasonNotProxyWasm},
		{wasmtest.Invalid, v1alpha1.ReasonInvalidWasm},
	} {
		pushT(t, reg, "acme/filter:stable", oci.FormatCNCF, bad.wasm)
		requestReconcile(t, ns, "filter")
		got := waitCondition(t, ns, "filter", v1alpha1.ConditionStalled, metav1.ConditionTrue, bad.reason)
		waitCondition(t, ns, "filter", v1alpha1.ConditionModuleValidated, metav1.ConditionFalse, bad.reason)
		wp, err := getWasmPlugin(ns, "filter")
		if err != nil {
			t.Fatal(err)
		}
		if wp.ResourceVersion != good.ResourceVersion || wp.Spec.Url != good.Spec.Url {
			t.Fatalf("%s: the working WasmPlugin changed: url %s (rv %s), want %s (rv %s)",
				bad.reason, wp.Spec.Url, wp.ResourceVersion, good.Spec.Url, good.ResourceVersion)
		}
		if got.Status.Module.Digest != d2 {
			t.Fatalf("status.module.digest = %s, want last-known-good %s", got.Status.Module.Digest, d2)
		}
	}
	waitEvent(t, ns, "filter", corev1.EventTypeNormal, EventRendered)
	waitEvent(t, ns, "filter", corev1.EventTypeWarning, v1alpha1.ReasonNotProxyWasm)
	waitEvent(t, ns, "filter", corev1.EventTypeWarning, v1alpha1.ReasonInvalidWasm)
}

// TestPullSecret: a missing, then wrong, then right pull Secret, each with
// a clear condition; the Secret watch picks up fixes without waiting.
func TestPullSecret(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	reg.RequireAuth("robot", "s3cret")
	if _, err := ocitest.Push(context.Background(), reg.Host, "private/filter:v1", oci.FormatCNCF, wasmtest.ProxyWasm,
		ocitest.Credential(credential("robot", "s3cret"))); err != nil {
		t.Fatal(err)
	}
	ext := newExtension(ns, "private", reg.Ref("private/filter:v1"))
	ext.Spec.Module.PullSecretRef = &v1alpha1.LocalObjectReference{Name: "regcred"}
	create(t, ext)
	got := waitCondition(t, ns, "private", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonPullSecretNotFound)
	if _, err := getWasmPlugin(ns, "private"); !apierrors.IsNotFound(err) {
		t.Fatalf("WasmPlugin rendered without credentials: %v", err)
	}
	assertMessageContains(t, got, v1alpha1.ConditionReady, "regcred")

	secret := dockerSecret(ns, "regcred", reg.Host, "robot", "wrong")
	create(t, secret)
	waitCondition(t, ns, "private", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonUnauthorized)

	secret.Data = dockerSecret(ns, "regcred", reg.Host, "robot", "s3cret").Data
	if err := k8s.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ns, "private")
	wp, err := getWasmPlugin(ns, "private")
	if err != nil {
		t.Fatal(err)
	}
	if wp.Spec.ImagePullSecret != "" {
		t.Fatalf("imagePullSecret = %q: delivery Cache must relay no registry credentials to the proxies", wp.Spec.ImagePullSecret)
	}

	opaque := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "opaque"}, StringData: map[string]string{"x": "y"}}
	create(t, opaque)
	ext2 := newExtension(ns, "opaque", reg.Ref("private/filter:v1"))
	ext2.Spec.Module.PullSecretRef = &v1alpha1.LocalObjectReference{Name: "opaque"}
	create(t, ext2)
	waitCondition(t, ns, "opaque", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonPullSecretInvalid)
}

func credential(user, pass string) auth.Credential {
	return auth.Credential{Username: user, Password: pass}
}

func dockerSecret(ns, name, host, user, pass string) *corev1.Secret {
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(cfg)},
	}
}

func assertMessageContains(t *testing.T, ext *v1alpha1.WasmExtension, typ, want string) {
	t.Helper()
	for _, c := range ext.Status.Conditions {
		if c.Type == typ {
			if !contains(c.Message, want) {
				t.Fatalf("%s message %q does not mention %q", typ, c.Message, want)
			}
			return
		}
	}
	t.Fatalf("no %s condition", typ)
}

// TestRepairAndDelete: a hand-edited or deleted WasmPlugin is put back;
// deleting the extension needs no finalizer (see assertDeletedByOwner).
func TestRepairAndDelete(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	d := pushT(t, reg, "acme/repair:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	ext := newExtension(ns, "repair", reg.Ref("acme/repair:v1"))
	create(t, ext)
	waitServes(t, ns, "repair", d)
	want := getExt(t, ns, "repair").Status.Module.URL

	patch := []byte(`{"spec":{"url":"oci://evil.example.com/x:latest","phase":"STATS"}}`)
	wp, _ := getWasmPlugin(ns, "repair")
	if err := k8s.Patch(context.Background(), wp, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "hand edit reverted", func() error {
		wp, err := getWasmPlugin(ns, "repair")
		if err != nil {
			return err
		}
		if wp.Spec.Url != want || wp.Spec.Phase.String() != "AUTHN" {
			return fmt.Errorf("url %s phase %s", wp.Spec.Url, wp.Spec.Phase)
		}
		return nil
	})

	if err := k8s.Delete(context.Background(), wp); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted WasmPlugin recreated", func() error {
		got, err := getWasmPlugin(ns, "repair")
		if err != nil {
			return err
		}
		if got.UID == wp.UID {
			return fmt.Errorf("still the old object")
		}
		return nil
	})

	assertDeletedByOwner(t, ns, "repair")
}

// assertDeletedByOwner deletes an extension that carries no finalizer and
// checks that it is gone at once, its WasmPlugin left to the garbage
// collector (which envtest does not run; the kind e2e does) through a
// controller owner reference that blocks the owner's foreground deletion.
func assertDeletedByOwner(t *testing.T, ns, name string) {
	t.Helper()
	ext := getExt(t, ns, name)
	if len(ext.Finalizers) != 0 {
		t.Fatalf("finalizers %v: an extension needs none (one API write fewer on the path to Ready)", ext.Finalizers)
	}
	wp, err := getWasmPlugin(ns, name)
	if err != nil {
		t.Fatal(err)
	}
	owner := metav1.GetControllerOf(wp)
	if owner == nil || owner.UID != ext.UID || owner.Kind != "WasmExtension" || owner.BlockOwnerDeletion == nil || !*owner.BlockOwnerDeletion {
		t.Fatalf("WasmPlugin owner references %+v: want a blocking controller reference to extension UID %s", wp.OwnerReferences, ext.UID)
	}
	if err := k8s.Delete(context.Background(), ext); err != nil {
		t.Fatal(err)
	}
	eventually(t, "extension gone", func() error {
		e := &v1alpha1.WasmExtension{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, e); !apierrors.IsNotFound(err) {
			return fmt.Errorf("extension still there: %v", err)
		}
		return nil
	})
}

// TestLegacyFinalizerReleased: an extension created by an earlier version
// carries the Finalizer; deleting it deletes what it rendered, then the
// finalizer is removed.
func TestLegacyFinalizerReleased(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	d := pushT(t, reg, "acme/legacy:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	ext := newExtension(ns, "legacy", reg.Ref("acme/legacy:v1"))
	ext.Finalizers = []string{Finalizer}
	create(t, ext)
	waitServes(t, ns, "legacy", d)
	if err := k8s.Delete(context.Background(), getExt(t, ns, "legacy")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "WasmPlugin and extension gone", func() error {
		if _, err := getWasmPlugin(ns, "legacy"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("WasmPlugin still there: %v", err)
		}
		e := &v1alpha1.WasmExtension{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "legacy"}, e); !apierrors.IsNotFound(err) {
			return fmt.Errorf("extension still there: %v", err)
		}
		return nil
	})
}

// TestBadInput: user errors are Stalled with a specific Reason.
func TestBadInput(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	pushT(t, reg, "acme/ok:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	for _, tc := range []struct {
		name, image, reason string
		secure              bool
	}{
		{"no-host", "acme/filter:v1", v1alpha1.ReasonInvalidReference, false},
		{"missing-tag", reg.Ref("acme/ok:v9"), v1alpha1.ReasonNotFound, false},
		{"missing-repo", reg.Ref("acme/nope:v1"), v1alpha1.ReasonNotFound, false},
		{"plain-http", reg.Ref("acme/ok:v1"), v1alpha1.ReasonRegistryNotTLS, true},
	} {
		ext := newExtension(ns, tc.name, tc.image)
		ext.Spec.Module.Insecure = !tc.secure
		create(t, ext)
		got := waitCondition(t, ns, tc.name, v1alpha1.ConditionStalled, metav1.ConditionTrue, tc.reason)
		assertStalledKstatus(t, got)
	}
}

// TestNameConflict: a WasmPlugin of the same name that someone else made
// is neither taken over nor changed.
func TestNameConflict(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	pushT(t, reg, "acme/mine:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	theirs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
		"metadata": map[string]any{"name": "taken", "namespace": ns},
		"spec":     map[string]any{"url": "oci://other.example.com/theirs:v1", "phase": "STATS"},
	}}
	create(t, theirs)
	create(t, newExtension(ns, "taken", reg.Ref("acme/mine:v1")))
	waitCondition(t, ns, "taken", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonNameConflict)
	wp, err := getWasmPlugin(ns, "taken")
	if err != nil {
		t.Fatal(err)
	}
	if wp.Spec.Url != "oci://other.example.com/theirs:v1" || len(wp.OwnerReferences) != 0 || wp.ResourceVersion != theirs.GetResourceVersion() {
		t.Fatalf("someone else's WasmPlugin was changed: %+v", wp)
	}
}

func assertStalledKstatus(t *testing.T, ext *v1alpha1.WasmExtension) {
	t.Helper()
	u, err := runtimeToUnstructured(ext)
	if err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != status.FailedStatus {
		t.Fatalf("kstatus = %s, want Failed for a stalled extension", res.Status)
	}
}

func jsonValue(t *testing.T, v any) *apiextensionsv1.JSON {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return &apiextensionsv1.JSON{Raw: b}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
