// Package check is the logic of `manager check`: the fetch, inspection and
// Proxy-Wasm dry run the operator makes for a WasmExtension, run locally on
// an image reference or a .wasm file, with what it found printed and the
// Reason the operator would set.
//
// It owns: the command's flags and exit codes (Main), reading a module from
// a file or a registry with the user's docker credentials (Load), the
// pipeline (Run), the printed and JSON reports, the conversion of
// spec.pluginConfig to the bytes a proxy hands proxy_on_configure
// (PluginConfigBytes, which the controller calls too), the parsing of a
// dry-run memory limit (ParseMemoryLimit) and the mapping of the oci, wasm
// and sandbox sentinel errors to condition Reasons (Reason).
//
// It must not talk to a Kubernetes API server, render Istio objects or keep
// state between runs: each Run builds its own sandbox unless one is given.
package check
