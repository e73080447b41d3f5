package controllers

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

func TestChooseDelivery(t *testing.T) {
	cncf := &module.Facts{Format: oci.FormatCNCF, Layout: oci.Layout{LayerMediaTypes: []string{"application/wasm"}}}
	image := &module.Facts{Format: oci.FormatOCIImage, Layout: oci.Layout{LayerGzip: true,
		LayerMediaTypes: []string{"application/vnd.oci.image.layer.v1.tar+gzip"}}}
	for _, tc := range []struct {
		name   string
		want   v1alpha1.Delivery
		out    v1alpha1.OutputKind
		f      *module.Facts
		server bool
		got    v1alpha1.Delivery
		err    error
	}{
		{"default with a module server", "", v1alpha1.OutputWasmPlugin, cncf, true, v1alpha1.DeliveryCache, nil},
		{"default without one, loadable", "", v1alpha1.OutputWasmPlugin, image, false, v1alpha1.DeliveryRegistry, nil},
		{"default without one, not loadable", "", v1alpha1.OutputWasmPlugin, cncf, false, "", errNotLoadableByProxy},
		{"Registry, loadable", v1alpha1.DeliveryRegistry, v1alpha1.OutputTrafficExtension, image, true, v1alpha1.DeliveryRegistry, nil},
		{"Registry, CNCF artifact", v1alpha1.DeliveryRegistry, v1alpha1.OutputWasmPlugin, cncf, true, "", errNotLoadableByProxy},
		{"Cache without a module server", v1alpha1.DeliveryCache, v1alpha1.OutputWasmPlugin, cncf, false, "", errDeliveryUnavailable},
		{"EnvoyFilter always Cache", v1alpha1.DeliveryRegistry, v1alpha1.OutputEnvoyFilter, cncf, true, v1alpha1.DeliveryCache, nil},
		{"EnvoyFilter without a module server", "", v1alpha1.OutputEnvoyFilter, image, false, "", errDeliveryUnavailable},
		{"Registry, image behind an index", v1alpha1.DeliveryRegistry, v1alpha1.OutputWasmPlugin, &module.Facts{Format: oci.FormatOCIImage,
			Layout: oci.Layout{LayerGzip: true, LayerMediaTypes: image.Layout.LayerMediaTypes, IndexPlatform: "wasip1/wasm"}}, true, "", errNotLoadableByProxy},
		{"Registry, layout unknown", v1alpha1.DeliveryRegistry, v1alpha1.OutputWasmPlugin, &module.Facts{Format: oci.FormatDockerImage}, true, "", errNotLoadableByProxy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chooseDelivery(&v1alpha1.WasmExtensionSpec{Delivery: tc.want}, tc.out, tc.f, tc.server, false)
			if got != tc.got || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("chooseDelivery = %q, %v; want %q, %v", got, err, tc.got, tc.err)
			}
		})
	}
	// Facts from a status that already renders this digest with Registry.
	if got, err := chooseDelivery(&v1alpha1.WasmExtensionSpec{Delivery: v1alpha1.DeliveryRegistry}, v1alpha1.OutputWasmPlugin,
		&module.Facts{Format: oci.FormatDockerImage}, true, true); got != v1alpha1.DeliveryRegistry || err != nil {
		t.Fatalf("already checked: %q, %v", got, err)
	}
}

// TestRegistryDelivery: with delivery Registry the proxies pull the
// digest-pinned oci:// reference themselves, which works only for the
// layouts istio-agent reads; the others are Stalled with
// FormatNotLoadableByProxy instead of a Ready extension whose proxies
// would install a deny-all filter.
func TestRegistryDelivery(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	for i, tc := range []struct {
		name     string
		format   oci.Format
		opts     []ocitest.PushOption
		loadable bool
	}{
		{"docker-image", oci.FormatDockerImage, nil, true},
		{"oci-image", oci.FormatOCIImage, nil, true},
		{"oci-image-tar", oci.FormatOCIImage, []ocitest.PushOption{ocitest.Gzip(false)}, false},
		{"cncf", oci.FormatCNCF, nil, false},
		{"wasm-to-oci", oci.FormatWasmToOCI, nil, false},
		{"solo-one-layer", oci.FormatSolo, nil, false},
	} {
		d := pushT(t, reg, "registry/"+tc.name+":v1", tc.format, wasmtest.Variant(200+i), tc.opts...)
		ext := newExtension(ns, tc.name, reg.Ref("registry/"+tc.name+":v1"))
		ext.Spec.Delivery = v1alpha1.DeliveryRegistry
		create(t, ext)
		if !tc.loadable {
			got := waitCondition(t, ns, tc.name, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonFormatNotLoadableByProxy)
			assertMessageContains(t, got, v1alpha1.ConditionRendered, "Cache")
			continue
		}
		waitReady(t, ns, tc.name)
		waitServes(t, ns, tc.name, d)
		wp, err := getWasmPlugin(ns, tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if want := "oci://" + reg.Host + "/registry/" + tc.name + "@" + d; wp.Spec.Url != want {
			t.Fatalf("%s: url %s, want %s", tc.name, wp.Spec.Url, want)
		}
	}
}

// TestPluginConfigLossyWarned: a pluginConfig integer beyond 2^53 reaches a
// WasmPlugin's plugin changed (google.protobuf.Struct); status and a Warning
// Event say so and name the path.
func TestPluginConfigLossyWarned(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	pushT(t, reg, "acme/lossy:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	ext := newExtension(ns, "lossy", reg.Ref("acme/lossy:v1"))
	ext.Spec.PluginConfig = &apiextensionsv1.JSON{Raw: []byte(`{"limits":{"id":12345678901234567},"ok":1}`)}
	create(t, ext)
	got := waitReady(t, ns, "lossy")
	assertMessageContains(t, got, v1alpha1.ConditionRendered, "limits.id")
	waitEvent(t, ns, "lossy", corev1.EventTypeWarning, EventPluginConfigLossy)
}
