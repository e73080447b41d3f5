// Package cache keeps verified Proxy-Wasm modules and serves them over
// HTTP to Envoy proxies, so that proxies never talk to a registry and
// never see registry credentials.
//
// It owns: a content-addressed Store (keyed by the hex sha256 of the .wasm
// bytes, bounded by total bytes, least-recently-used eviction) held either
// in memory or as files in one directory (atomic writes; a file found at
// start is served only after its sha256 is checked again); a Server that
// every replica runs, answering GET/HEAD
// <prefix>/<hex HMAC-SHA256(key, sha256)>/<sha256>.wasm with immutable,
// verifiable responses (ETag, Content-Length, If-None-Match), only while
// the controller says some extension renders the module, plus a grace
// period; refilling a miss through a caller-supplied Refill, at most one
// call per sha256 at a time; and the wasmext_module_server_* and
// wasmext_module_cache_* Prometheus metrics.
//
// It must not: pull from registries, verify signatures or inspect Wasm (the
// controller does that before calling Put, and inside Refill), read
// Kubernetes objects (InUse and Refill do), persist the key, or log.
// Neither the key nor anything derived from it other than URLs appears in
// its errors or responses. Every byte it stores or serves has been checked
// against its sha256 key.
package cache
