package check

import "github.com/wasmext/wasmext/internal/reasons"

// Reason returns the condition Reason the operator sets for an error of
// fetching (package oci), inspecting (package wasm) or dry-running
// (package sandbox) a module (internal/reasons, the table the operator
// reads too), and false when err wraps none of their sentinels: a
// transient failure the operator would retry (FetchFailed or
// RegistryUnavailable).
func Reason(err error) (string, bool) { return reasons.Of(err) }
