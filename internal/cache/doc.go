// Package cache keeps verified Proxy-Wasm modules in memory and serves them
// over HTTP to Envoy proxies, so that proxies never talk to a registry and
// never see registry credentials.
//
// It owns: a content-addressed Store (keyed by the hex sha256 of the .wasm
// bytes, bounded by total bytes, least-recently-used eviction); a Server
// that every replica runs, answering GET/HEAD <prefix>/<token>/<sha256>.wasm
// with immutable, verifiable responses; refilling a miss through a
// caller-supplied Refill, at most one call per sha256 at a time; and the
// wasmext_cache_* Prometheus metrics.
//
// It must not: pull from registries, verify signatures or inspect Wasm (the
// controller does that before calling Put, and inside Refill), read
// Kubernetes objects, derive or persist the token, or log. Every byte it
// stores or serves has been checked against its sha256 key.
package cache
