// Package wasmtest provides WebAssembly test fixtures for tests, benchmarks
// and demo programs: small modules assembled from the WAT sources in
// testdata/ (see testdata/README.md for how they are built).
//
// It owns the fixture files and nothing else. It must not be imported by
// production code, and it must not run or inspect modules itself.
package wasmtest

import (
	_ "embed"
	"encoding/binary"
	"strconv"
)

//go:generate make -C testdata

var (
	// ProxyWasm is a minimal Proxy-Wasm (ABI 0.2.1) HTTP filter whose
	// proxy_on_configure logs the plugin configuration and returns 1.
	//
	//go:embed testdata/proxy_wasm.wasm
	ProxyWasm []byte

	// ProxyWasmV2 behaves like ProxyWasm but logs a different message, so its
	// sha256 differs.
	//
	//go:embed testdata/proxy_wasm_v2.wasm
	ProxyWasmV2 []byte

	// NotProxyWasm is a valid module shaped like a WASI command: it exports
	// only _start and memory.
	//
	//go:embed testdata/not_proxy_wasm.wasm
	NotProxyWasm []byte

	// ConfigureFails is a Proxy-Wasm module whose proxy_on_configure
	// returns 0 (configuration rejected).
	//
	//go:embed testdata/configure_fails.wasm
	ConfigureFails []byte

	// ConfigureTraps is a Proxy-Wasm module whose proxy_on_configure traps.
	//
	//go:embed testdata/configure_traps.wasm
	ConfigureTraps []byte

	// Features is a Proxy-Wasm-shaped module that uses every section and
	// encoding of WebAssembly 2.0 (all element and data segment kinds,
	// reference types, SIMD, a name section), for decoder tests. It is
	// never meant to run.
	//
	//go:embed testdata/features.wasm
	Features []byte

	// LegacySDK is shaped like a Proxy-Wasm module built with an SDK from
	// before ABI version markers existed: it exports proxy_on_* callbacks,
	// _start and memory, but no proxy_abi_version_* function.
	//
	//go:embed testdata/legacy_sdk.wasm
	LegacySDK []byte

	// UnknownABI is a Proxy-Wasm-shaped module whose only ABI markers are
	// proxy_abi_version_0_3_0 and proxy_abi_version_9, which Envoy does not
	// know.
	//
	//go:embed testdata/unknown_abi.wasm
	UnknownABI []byte

	// SeveralABIs exports the ABI markers proxy_abi_version_0_3_0, _0_2_0,
	// _0_2_1 and _0_1_0, in that export order.
	//
	//go:embed testdata/several_abis.wasm
	SeveralABIs []byte

	// DuplicateImports is a Proxy-Wasm (ABI 0.2.1) module that imports
	// wasi_snapshot_preview1.fd_write twice, as Go's wasip1 modules do, with
	// env.proxy_log between the two.
	//
	//go:embed testdata/duplicate_imports.wasm
	DuplicateImports []byte
)

// Fixtures for the dry run (see testdata/README.md). Each doc comment says
// what the module does and what a dry run with an empty plugin configuration
// must conclude; all are HTTP filters unless said otherwise.
var (
	// TinyGoStart is a Proxy-Wasm (ABI 0.2.1) module started like TinyGo's:
	// _start (no _initialize) sets a flag and calls
	// wasi_snapshot_preview1.proc_exit(0). It exports both malloc and
	// proxy_on_memory_allocate. proxy_on_configure fails, logging
	// "tinygo_start: _start did not run before proxy_on_configure" at error
	// level, unless _start ran.
	//
	// Dry run: passes; entry point "_start" (proc_exit(0) is no failure);
	// allocator "proxy_on_memory_allocate" (preferred over malloc).
	//
	//go:embed testdata/tinygo_start.wasm
	TinyGoStart []byte

	// StartSection is a Proxy-Wasm (ABI 0.2.1) module initialized like an
	// AssemblyScript one: by a start section, with neither _start nor
	// _initialize. proxy_on_configure fails, logging "start_section: the
	// start function did not run", unless the start function ran.
	//
	// Dry run: passes; entry point "start section"; allocator
	// "proxy_on_memory_allocate".
	//
	//go:embed testdata/start_section.wasm
	StartSection []byte

	// MallocOnly is a Proxy-Wasm (ABI 0.2.1) module whose only allocator is
	// malloc (no proxy_on_memory_allocate), started with _initialize.
	// proxy_on_configure reads the property plugin_name, which the host
	// copies into memory from malloc, and logs
	// "malloc_only: plugin_name=<name>".
	//
	// Dry run: passes; entry point "_initialize"; allocator "malloc"; the
	// log has the plugin name.
	//
	//go:embed testdata/malloc_only.wasm
	MallocOnly []byte

	// WASIUnstable is a Proxy-Wasm (ABI 0.2.0) module shaped like 2020-era
	// SDK output: it imports fd_write, fd_close, fd_seek, environ_sizes_get,
	// environ_get, args_sizes_get, args_get and proc_exit from wasi_unstable
	// (not wasi_snapshot_preview1), exports _start and malloc. _start calls
	// the environ and args functions and writes "wasi_unstable: started" to
	// stdout; proxy_on_configure fails, logging why, if _start did not run
	// or one of those calls returned an errno.
	//
	// Dry run: passes (no missing import); entry point "_start"; allocator
	// "malloc".
	//
	//go:embed testdata/wasi_unstable.wasm
	WASIUnstable []byte

	// NetworkFilter is a Proxy-Wasm (ABI 0.2.1) NETWORK filter: it exports
	// proxy_on_new_connection, proxy_on_downstream_data,
	// proxy_on_downstream_connection_close and the upstream callbacks, and no
	// HTTP callback. Each callback logs "network_filter: new connection",
	// "network_filter: downstream data", "network_filter: downstream
	// connection closed" and so on.
	//
	// Dry run with Type "NETWORK": passes; entry point "_initialize";
	// allocator "proxy_on_memory_allocate"; those three lines are logged.
	//
	//go:embed testdata/network_filter.wasm
	NetworkFilter []byte

	// ABIv010 is a Proxy-Wasm ABI 0.1.0 module: marker
	// proxy_abi_version_0_1_0, _start, malloc, the plugin configuration read
	// with proxy_get_configuration, and the 0.1.0 signatures
	// proxy_on_request_headers(context_id, num_headers) and
	// proxy_on_response_headers(context_id, num_headers).
	// proxy_on_configure accepts an empty configuration or one starting with
	// "{"; for any other it logs "abi_v0_1_0: the plugin configuration is
	// not a JSON object" at error level and returns 0.
	//
	// Dry run: passes with an empty configuration (those signatures are
	// right for ABI 0.1.0); entry point "_start"; allocator "malloc". With
	// the configuration "x": ConfigureFailed with that line.
	//
	//go:embed testdata/abi_v0_1_0.wasm
	ABIv010 []byte

	// GoWASIP1 is a Proxy-Wasm (ABI 0.2.1) HTTP filter built by the
	// standard Go toolchain (GOOS=wasip1, -buildmode=c-shared,
	// //go:wasmexport; source in testdata/go/), about 3.3 MB: a reactor
	// started with _initialize, allocator proxy_on_memory_allocate, imports
	// the wasi_snapshot_preview1 functions Go's runtime needs (fd_write
	// twice, poll_oneoff, sched_yield, fd_fdstat_set_flags ...). Its plugin
	// configuration is empty or JSON {"header": "x-name", "value": "v"};
	// for anything else proxy_on_configure logs "gowasip1: invalid plugin
	// configuration: <why>" at error level and returns 0.
	// proxy_on_request_headers adds the configured header.
	//
	// Dry run: passes with an empty or valid configuration; entry point
	// "_initialize"; allocator "proxy_on_memory_allocate". With
	// {"unknown": 1} or invalid JSON: ConfigureFailed with that line.
	//
	//go:embed testdata/go_wasip1.wasm
	GoWASIP1 []byte

	// AssemblyScript is a Proxy-Wasm HTTP filter built with a real SDK:
	// AssemblyScript 0.14.13 and @solo-io/proxy-runtime 0.1.8 (source in
	// testdata/assemblyscript/), about 19 KB. The SDK declares ABI 0.2.0,
	// initializes in a start section (no _start, no _initialize), allocates
	// with malloc, imports wasi_unstable.proc_exit (its abort handler logs at
	// critical level and calls proc_exit(255)) and exports callbacks outside
	// the spec (proxy_validate_configuration, proxy_on_request_metadata,
	// proxy_on_grpc_trailing_metadata). Its root context is registered under
	// the root id "asplugin": with another plugin_root_id (Istio's
	// pluginName) the SDK aborts in proxy_on_context_create ("Missing root
	// context factory for root id: ..."). Its plugin configuration is empty
	// or JSON {"header": "x-name", "value": "v"}; for anything else
	// proxy_on_configure logs "asplugin: invalid plugin configuration: <why>"
	// at error level and returns 0.
	//
	// Dry run with PluginName "asplugin": passes with an empty or valid
	// configuration; entry point "start section"; allocator "malloc". With
	// {"unknown": "x"}: ConfigureFailed with that line. With another
	// PluginName: ModuleTrapped (proc_exit(255)) with the SDK's line.
	//
	//go:embed testdata/assemblyscript.wasm
	AssemblyScript []byte
)

// AssemblyScriptRootID is the root id AssemblyScript registers its root
// context under: the PluginName its dry run needs.
const AssemblyScriptRootID = "asplugin"

// Invalid starts with a valid Wasm header followed by garbage.
var Invalid = []byte("\x00asm\x01\x00\x00\x00\xff garbage")

// VariantSection is the name of the custom section Variant appends.
const VariantSection = "wasmext.variant"

// Variant returns a copy of ProxyWasm with a custom section named
// VariantSection holding the decimal i appended: a still-valid module with a
// sha256 distinct for every i.
func Variant(i int) []byte {
	return AppendCustomSection(ProxyWasm, VariantSection, []byte(strconv.Itoa(i)))
}

// AppendCustomSection returns a copy of module with a custom section (id 0)
// named name and holding payload appended. Custom sections may appear
// anywhere, so the result is valid whenever module is.
func AppendCustomSection(module []byte, name string, payload []byte) []byte {
	var body []byte
	body = binary.AppendUvarint(body, uint64(len(name)))
	body = append(body, name...)
	body = append(body, payload...)

	out := make([]byte, 0, len(module)+len(body)+1+binary.MaxVarintLen32)
	out = append(out, module...)
	out = append(out, 0) // custom section id
	out = binary.AppendUvarint(out, uint64(len(body)))
	return append(out, body...)
}
