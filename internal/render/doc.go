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
// Several extensions on one proxy run in the order istiod gives WasmPlugins
// (see Order; WasmPluginsByListenerInfo and sortConfigByCreationTime in
// istio/istio pilot/pkg/model/push_context.go):
//
//  1. by phase: AUTHN, AUTHZ, STATS, then extensions without a phase;
//  2. within a phase by priority, higher first (unset counts as 0);
//  3. the workload's own namespace before the mesh's root namespace;
//  4. older first (creation time), then by name.
//
// WasmPlugin and TrafficExtension carry phase and priority and Istio orders
// them itself. Istio treats an unset WasmPlugin priority as the lowest
// possible value, so the renderers always write the priority (0 when unset)
// to keep the documented default. Istio reads the creation time of the
// rendered objects, not of the extensions: at equal priority the order is
// the order the operator created the objects in, so only distinct
// priorities give an order that survives an object being recreated.
//
// istiod applies EnvoyFilters by their priority, then root namespace first,
// then creation time and name (EnvoyFilters in push_context.go), and each
// patch sees the chain the ones before it left. envoyFilterPriority encodes
// phase, priority and namespace into the EnvoyFilter priority so that the
// filters are applied, and so run, in Order; where each one goes is the
// next section.
//
// Priorities do not order extensions rendered as EnvoyFilters against those
// rendered as WasmPlugins or TrafficExtensions. istiod builds each chain with
// the WasmPlugin and TrafficExtension filters already in their phase's slot
// (extension.PopAppendHTTP in buildHTTPConnectionManager) and only then
// applies the EnvoyFilters to the finished chain (patchListeners in
// pilot/pkg/networking/core/listener_builder.go). An EnvoyFilter-rendered
// filter goes right before its anchor: after every WasmPlugin filter of its
// phase whatever their priorities and, where the anchor is a later filter
// because an optional one is missing, after WasmPlugin filters of later
// phases too (an AUTHN EnvoyFilter on a workload without RequestAuthentication
// and AuthorizationPolicy runs after all of them). The extensions of one
// workload should all use one output.
//
// # EnvoyFilter placement
//
// Istio builds its chains with the Wasm filters of each phase in these
// slots (◆), and the optional filters in brackets only when something asks
// for them (buildHTTPConnectionManager in listener_builder.go,
// buildCompleteNetworkFilters in networkfilter.go,
// buildInboundNetworkFiltersForHTTP in listener_inbound.go,
// buildListenerFromEntry in listener.go and buildGatewayTCPBasedFilterChains
// in gateway.go, all in istio/istio pilot/pkg/networking/core/; HTTP filters
// are envoy.filters.http.<name>, network filters envoy.filters.network.<name>,
// except istio.* and istio_authn):
//
//	HTTP (the HCM's filters):
//	  istio.metadata_exchange, [rbac, ext_authz: CUSTOM policy], ◆AUTHN,
//	  [jwt_authn, istio_authn: RequestAuthentication], ◆AUTHZ,
//	  [rbac: ALLOW/DENY policy], ◆STATS, ◆unset, [grpc_web: gRPC-Web port],
//	  grpc_stats, [istio.alpn: outbound and gateways], fault, cors,
//	  [istio.stats: metrics], router
//	TCP:
//	  [istio.metadata_exchange: inbound], [rbac, ext_authz: CUSTOM policy],
//	  ◆AUTHN, ◆AUTHZ, [rbac: ALLOW/DENY policy], ◆STATS, ◆unset,
//	  [istio.stats: metrics], then tcp_proxy, mongo_proxy and tcp_proxy,
//	  mysql_proxy and tcp_proxy, or redis_proxy
//	network filters of an HTTP chain:
//	  [istio.metadata_exchange: inbound], ◆AUTHN, ◆AUTHZ, ◆STATS, ◆unset,
//	  http_connection_manager
//
// Outbound sidecars have no authentication or authorization filters;
// gateways have all of the above (context GATEWAY).
//
// An EnvoyFilter INSERT_BEFORE or INSERT_AFTER names the filter it goes
// next to; when that filter is missing it does nothing, and two patches on
// two anchors insert twice when both exist (insertBeforeFunc and
// patchHTTPFilters in pilot/pkg/networking/core/envoyfilter/listener_patch.go).
// So each phase has a list of anchors (phaseAnchors) and its filter goes
// right before the first of them, in the chain's order, that the chain
// holds. slotPatches does that with a placeholder: INSERT_BEFORE each
// anchor, REPLACE the first placeholder with the filter (REPLACE acts on the
// first match), REMOVE the others (REMOVE acts on all). The last anchor of
// each list is in every chain Istio gives Wasm filters, so the filter is
// there exactly once. "After the last of these filters that exists" cannot
// be written at all: what a patch does at a filter depends only on the
// filters before it. The lists:
//
//	HTTP AUTHN   jwt_authn, rbac, grpc_web, grpc_stats
//	HTTP AUTHZ   rbac, grpc_web, grpc_stats
//	HTTP STATS   grpc_web, grpc_stats
//	HTTP unset   grpc_web, grpc_stats (after STATS: envoyFilterPriority)
//	TCP AUTHN    rbac, istio.stats, mongo_proxy, mysql_proxy, redis_proxy,
//	and AUTHZ    tcp_proxy, http_connection_manager
//	TCP STATS    istio.stats, mongo_proxy, mysql_proxy, redis_proxy,
//	and unset    tcp_proxy, http_connection_manager
//
// Each list is what follows the phase's slot in Istio's chain, optional
// filters first: AUTHN goes before authentication (jwt_authn; istio_authn
// only comes with it) or, without it, before authorization; AUTHZ before
// Istio's RBAC; STATS and unset before grpc_web, which would hand them gRPC
// instead of gRPC-Web, and so before istio.alpn and istio.stats; on TCP
// before the network RBAC, the stats filter and the terminal stack
// (buildNetworkFiltersStack in networkfilter.go), the HCM on HTTP chains.
// Without a CUSTOM AuthorizationPolicy that is exactly Istio's slot in every
// chain above.
//
// With a CUSTOM AuthorizationPolicy it is not: Istio puts a shadow RBAC
// filter with the local one's name before ext_authz, a match on names
// cannot tell the two apart, and the first rbac is the CUSTOM one. AUTHN and
// AUTHZ then run right after metadata exchange, before ext_authz, and AUTHZ
// before jwt_authn (without JWT claims). No EnvoyFilter can do better: up to
// that shadow filter the chain is the same as on a workload with only an
// ALLOW/DENY policy, where the filter must go right there. Leaving rbac out
// of the lists would instead put AUTHZ after Istio's RBAC has decided on
// every workload with an ALLOW/DENY policy. Either way the phases keep their
// meaning: AUTHZ never runs after an RBAC filter, AUTHN never after
// jwt_authn, STATS and unset never after istio.stats.
//
// The network anchors also match chains that Istio builds without Wasm
// filters, so network filters are then taken out of them with REMOVE
// patches (networkExclusions): the inbound virtualInbound-blackhole chain,
// the HBONE connect_terminate listener, the outbound listeners'
// PassthroughFilterChain and the virtualOutbound listener. HTTP filters
// need none: every HCM with grpc_stats gets Wasm filters from Istio, and the
// connect_terminate HCM has none of the anchors. Not checked against Istio:
// the connect-originate listeners of east-west gateways in ambient
// multi-network meshes.
//
// The patch-application tests (patchapply_test.go, placement_test.go,
// placement_cases_test.go) apply the rendered patches the way
// listener_patch.go does to models of these chains, for every phase and
// type, on inbound and outbound sidecars and gateways, with and without
// each optional filter.
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
// wasm-to-oci, a one-layer solo.io image, an uncompressed tar layer, and
// an image index: istio-agent turns what remote.Get returned into an image
// with go-containerregistry's Descriptor.Image, which resolves an index to
// its linux/amd64 child, never the wasip1/wasm manifest internal/oci picks
// from it. Then
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
