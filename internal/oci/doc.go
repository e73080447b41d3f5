// Package oci fetches Proxy-Wasm modules from OCI registries.
//
// It owns: parsing image references, resolving a tag to a manifest digest
// (one HEAD request, no blob traffic), reading a manifest by digest (for an
// image index, its wasip1/wasm manifest), picking which of the supported
// Wasm packagings it is (see Format), and reading the one blob that holds
// the module. Everything read from a registry is treated
// as hostile: every read is capped, every blob and manifest is checked
// against its digest, and gzip streams are capped on decompressed size.
// It also turns the docker config JSON of a pull secret into a credential.
//
// It must not: validate or compile Wasm (internal/wasm does), verify
// signatures (internal/verify does), cache modules on disk (internal/cache
// does), read Kubernetes objects, or retry. Callers classify failures with
// errors.Is against the sentinel errors in errors.go; every other error is
// transient and worth a retry with backoff.
package oci
