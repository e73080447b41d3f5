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
package render
