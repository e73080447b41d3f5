// Package sandbox dry-runs a Proxy-Wasm module before any proxy sees it: a
// Proxy-Wasm host on wazero that loads the module as Envoy would, starts it,
// hands it its real plugin configuration and serves it one stream. It owns
// that host and the dry run's bounds, caches and errors; fetching and
// inspecting modules (internal/oci, internal/wasm) and turning errors into
// status conditions (the controllers) are elsewhere.
//
// # What Envoy does, and so the dry run
//
// The host follows proxy-wasm-cpp-host, Envoy's Wasm host, and the
// Proxy-Wasm specification (proxy-wasm/spec, abi-versions/v0.1.0, v0.2.0,
// v0.2.1):
//
//   - Imports (Provided): the env.proxy_* functions of
//     FOR_ALL_HOST_FUNCTIONS in include/proxy-wasm/exports.h for every ABI,
//     plus those src/wasm.cc (WasmBase::registerCallbacks) registers for one
//     ABI only: proxy_get_configuration, proxy_continue_request,
//     proxy_continue_response and proxy_clear_route_cache for 0.1.0,
//     proxy_continue_stream and proxy_close_stream for 0.2.x,
//     proxy_get_log_level for 0.2.1; env.pthread_equal and
//     env.emscripten_notify_memory_growth; and FOR_ALL_WASI_FUNCTIONS under
//     both wasi_snapshot_preview1 and wasi_unstable, plus sched_yield,
//     poll_oneoff, fd_fdstat_set_flags and fd_filestat_get, which
//     proxy-wasm-cpp-host added for Go wasip1 modules (pull requests 427 and
//     533). Envoy refuses a module importing anything else ("missing
//     import"), and so does the dry run (ErrMissingImport), judged by the
//     module's own ABI. wazero implements more of WASI; the rest is refused
//     all the same.
//   - Exports: the ABI marker is the first proxy_abi_version_* export Envoy
//     knows, in export order (src/bytecode_util.cc). Envoy looks callbacks up
//     with fixed types (WasmBase::getFunctions; the WasmCallWord/WasmCallVoid
//     fields of include/proxy-wasm/wasm.h), proxy_on_request_headers and
//     proxy_on_response_headers without end_of_stream in ABI 0.1.0, and fails
//     a module whose export has another type (ErrInvalidABI). The allocator
//     is proxy_on_memory_allocate, or malloc in its absence; without one
//     the host cannot pass data in (ErrInvalidABI).
//   - Start: _initialize (then main, if exported), or else _start; a module
//     with neither relies on its start section, which runs at
//     instantiation. proc_exit(0) in an entry point ends it normally (TinyGo
//     and older C++ modules start as reactors that way): the call unwinds,
//     the module stays usable. A non-zero exit, or proc_exit anywhere else,
//     is ErrTrapped.
//   - Then proxy_on_context_create(1, 0), proxy_on_vm_start(1, VM
//     configuration size), proxy_on_configure(1, plugin configuration size)
//     with the real bytes; 0 from either is ErrConfigureFailed quoting the
//     module's last log lines (warnings and worse first): that is where SDKs
//     say what is wrong with a configuration.
//   - One stream, context 2: for HTTP, request headers (a POST to /), a
//     4-byte request body ending the stream, response headers (200) ending
//     it, then proxy_on_done, proxy_on_log, proxy_on_delete; for NETWORK,
//     proxy_on_new_connection, one 4-byte downstream chunk ending the
//     stream, proxy_on_downstream_connection_close, then done, log, delete
//     (Context::onCloseTCP). Callbacks the module does not export are
//     skipped.
//
// Host functions answer as src/exports.cc does, with WasmResult codes:
// proxy_log and fd_write (stdout info, stderr error, one line per call, a
// trailing newline dropped) are captured; proxy_get_buffer_bytes and
// proxy_get_configuration hand out the VM and plugin configuration and the
// stream's body and data; header-map calls read and change the smoke
// stream's maps; proxy_get_property answers plugin_name and plugin_root_id
// (Input.PluginName: Istio renders WasmPlugin.spec.pluginName as the root
// id, istio/istio pilot/pkg/model/extensions.go), plugin_vm_id (empty, as
// Istio sets none), node, node.id, node.cluster, node.metadata and
// node.metadata.KEY of an Istio sidecar, request.path/method/host/scheme/id
// during the stream, and what proxy_set_property stored; everything else
// is NotFound. Path segments are NUL-separated; strings are returned as
// their bytes and messages in protobuf wire format (serializeValue in
// Envoy's source/extensions/common/wasm/context.cc). Metrics, shared data
// and queues live in memory for the run. proxy_http_call and proxy_grpc_*
// return a token and never answer; proxy_get_status is Unimplemented;
// proxy_call_foreign_function is NotFound (no foreign functions). Every
// guest pointer and length is checked: out of range is InvalidMemoryAccess
// (EFAULT for WASI), never a trap or a host panic (FuzzHostPointers).
// Buffers handed to the guest are allocated with its own allocator.
//
// WASI is wazero's, under both module names, with no arguments, files or
// network, the VM's environment variables, a clock that starts at
// 2025-01-01 and advances 1 ms per reading, a fixed-seed random source, and
// three functions replaced: fd_write (Envoy's logging), proc_exit (unwinds
// without closing the module) and poll_oneoff (wazero's indexes out of
// range for huge subscription counts; this one fires clock subscriptions at
// once by advancing the clock, so sleeping never waits).
//
// # Limits
//
//   - Time: Config.Timeout covers instantiation, start and every callback
//     (context deadline, wazero's WithCloseOnContextDone); compilation is
//     not interruptible and is not counted. Past it: ErrTimeout. A caller
//     that cancels gets ErrTimeout too, and that result is not remembered.
//   - Memory: Config.MemoryLimitPages caps every memory (wazero's
//     WithMemoryLimitPages; default 2048 pages, 128 MiB, seven times what
//     Emscripten and Zig modules start with). A module declaring more
//     initial memory fails to compile: ErrMemoryLimit. memory.grow past the
//     cap returns -1 without trapping; what the module does next (an
//     allocator aborting with unreachable, Go exiting with "out of memory",
//     refusing the configuration) is a failure, and the dry run reports it
//     as ErrMemoryLimit when memory had reached at least 15/16 of the cap
//     by then. A module that grows to near the cap and still succeeds
//     passes; one whose failed grow request left it well under the cap is
//     reported by its failure (usually ErrTrapped), not as ErrMemoryLimit.
//   - Logs: Config.MaxLogBytes of proxy_log and fd_write text are kept; the
//     rest is counted in Report.LogsDropped (a module logging 1 GiB costs
//     no memory). What the guest makes the host keep (shared data, queues,
//     headers, bodies, properties) is capped at 16 MiB per run
//     (InternalFailure past it).
//
// # Cost
//
// One wazero runtime per Sandbox, shared by all its runs; results are
// remembered by Key(in) in an LRU of Config.ResultCacheSize, and concurrent
// runs of one key share one run. A compiled module is kept by sha256 only
// while runs use or await it (new configurations of one digest queued
// together share one compilation), then closed: with its result
// remembered, it is needed again only for another configuration
// (Config.CompiledCacheSize keeps some longer). Compilations take a share
// of Config.Budget (wasm.DefaultBudget, shared with inspection) from
// compiling until the module is closed, since the interpreter's compiled
// form costs about 22 bytes per byte of Wasm (TestCompiledSize: 71 MiB for
// the 3.3 MB Go module); Config.MaxConcurrent bounds the runs.
//
// The interpreter is the default because compilation dominates: a digest
// is compiled once per burst of configurations and dry-run once per
// configuration. Measured on this
// repository's 2-core development machine (shared, medians of 5
// compilations and 25 cached-compile runs; Report.Compile, Report.Run):
//
//	module                         interpreter          compiler
//	                               compile    run       compile    run
//	good.wasm (1 KB WAT)           0.1 ms     0.08 ms   1.7 ms     0.13 ms
//	hostcalls.wasm (4 KB WAT)      0.35 ms    0.05 ms   7.9 ms     0.07 ms
//	AssemblyScript SDK (19 KB)     2.2 ms     1.6 ms    28 ms      0.25 ms
//	Go 1.26 wasip1 (3.3 MB)        557 ms     61 ms     3.84 s     17 ms
//
// For the Go module the compiler pays off only after about 75 dry runs of
// one compiled module.
package sandbox
