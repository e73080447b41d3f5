// Package render turns a WasmExtension and the facts the operator verified
// about its module into the Istio objects that make proxies load it:
//
//   - WasmPlugin (extensions.istio.io/v1alpha1), see WasmPlugin;
//   - TrafficExtension (extensions.istio.io/v1alpha1, Istio 1.32+), see
//     TrafficExtension;
//   - EnvoyFilter (networking.istio.io/v1alpha3) with an ECDS filter and its
//     remote-code extension config, for what the other two cannot express,
//     see EnvoyFilters.
//
// Everything here is a pure function: no client, no clock, no network. What
// goes in fully decides what comes out, which is what the golden tests in
// testdata/ pin down. Choosing the output kind and applying the objects is
// the controller's job; this package must not talk to the API server.
//
// # Ordering
//
// Several extensions on the same proxy run in this order (see Order):
//
//  1. by phase: AUTHN, AUTHZ, STATS, then extensions without a phase;
//  2. within a phase by priority, higher first (unset counts as 0);
//  3. ties by namespace, then name.
//
// WasmPlugin and TrafficExtension carry phase and priority and Istio orders
// them itself. Two caveats: Istio treats an unset WasmPlugin priority as the
// lowest possible value, so the renderers always write the priority (0 when
// unset) to keep the documented default; and Istio breaks ties by the
// rendered objects' creationTimestamp before their name and namespace, which
// the operator cannot pin, so only distinct priorities give a guaranteed
// order. For EnvoyFilter, the order is encoded in the EnvoyFilter priority
// and the insertion anchor: see envoyFilterPriority.
//
// # Delivery and plugin configuration
//
// Module.CacheURL decides how the proxies obtain the module. With delivery
// Cache (CacheURL set) a WasmPlugin's url and sha256, and a
// TrafficExtension's wasm.url and wasm.sha256, name the operator's module
// server and the sha256 of the .wasm. istio-agent GETs the URL, retrying
// 5xx, and compares the sha256 of the bytes (istio/istio pkg/wasm/cache.go,
// httpfetcher.go; a .wasm body is used as is, only gzip or tar bodies are
// unpacked). Every module format loads this way. No imagePullSecret, so no
// registry credentials reach the proxies, and no imagePullPolicy: wasm.proto
// makes it relevant only without a digest or sha256, and istio-agent keys
// its module cache by the sha256. An https CacheURL needs a certificate the
// proxies trust (or the host in istio-agent's WASM_INSECURE_REGISTRIES);
// http is enough for integrity, which comes from the sha256. The object
// carries AnnotationModule naming the OCI artifact behind the URL.
// EnvoyFilters always fetch this way (see EnvoyFilterOptions).
//
// With delivery Registry (CacheURL empty) the digest-pinned oci:// URL is
// rendered with the pull policy and pull secret, and no sha256 (for an
// oci:// URL Istio compares it with the manifest digest, which the URL
// pins). Each proxy's istio-agent then pulls the image itself
// (pkg/wasm/imagefetcher.go) and reads only:
//
//  1. a Docker manifest whose last layer has media type
//     application/vnd.docker.image.rootfs.diff.tar.gzip;
//  2. any other manifest whose last layer has media type
//     application/vnd.oci.image.layer.v1.tar+gzip (solo.io's "compat"
//     image); the layer is gunzipped whatever its bytes, and the first tar
//     entry whose base name is plugin.wasm is the module;
//  3. failing 2, a manifest of exactly two layers, one of which has media
//     type application/vnd.module.wasm.content.layer.v1+wasm (solo.io's
//     "oci" image: that layer and a config layer).
//
// It fails on everything else: the CNCF artifact (application/wasm),
// wasm-to-oci, a one-layer solo.io image, an uncompressed tar layer. Then
// it puts an RBAC filter of the same name in the plugin's place
// (pkg/wasm/convert.go): deny-all unless the failure policy is FAIL_OPEN,
// allow-all then, and nothing tells the extension's status. ProxyLoadable
// applies these rules, and the controller refuses delivery Registry when it
// says no. The rules need facts that oci.Format does not carry (the layer
// media types, whether the layer is really gzip, an earlier tar entry such
// as lib/plugin.wasm), hence its RegistryArtifact argument.
//
// istiod hands a plugin its WasmPlugin or TrafficExtension pluginConfig as
// the JSON of a google.protobuf.Struct (pilot/pkg/model/extensions.go), so
// its numbers are float64s: 12345678901234567 reaches the plugin as
// 12345678901234568. StructLossyNumbers lists the numbers that change, for
// a warning. An EnvoyFilter passes the user's JSON on as text (see
// configurationAny) and keeps every digit. For a Struct without fields
// istiod sends an empty configuration, so the plugin's proxy_on_configure
// sees zero bytes both without pluginConfig and with {}; every renderer
// therefore treats {} (and null) as no pluginConfig, and an EnvoyFilter
// then has no configuration, which Envoy also passes on as zero bytes.
package render
