// Package sandbox dry-runs a Proxy-Wasm module before any proxy sees it: a
// Proxy-Wasm host on wazero that starts the module as Envoy would, hands it
// its real plugin configuration and serves it one stream.
//
// (Full documentation follows in a later commit.)
package sandbox
