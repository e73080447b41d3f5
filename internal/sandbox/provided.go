package sandbox

// ABI markers, as Envoy's host knows them.
const (
	abi010 = "proxy_abi_version_0_1_0"
	abi020 = "proxy_abi_version_0_2_0"
	abi021 = "proxy_abi_version_0_2_1"
)

// knownABIs in the order the package documentation lists them.
var knownABIs = []string{abi010, abi020, abi021}

// proxyCommon are the env.proxy_* functions Envoy's host registers for every
// ABI (FOR_ALL_HOST_FUNCTIONS in proxy-wasm-cpp-host's
// include/proxy-wasm/exports.h).
var proxyCommon = []string{
	"log", "get_status", "set_property", "get_property", "send_local_response",
	"get_shared_data", "set_shared_data", "register_shared_queue", "resolve_shared_queue",
	"dequeue_shared_queue", "enqueue_shared_queue", "get_header_map_value",
	"add_header_map_value", "replace_header_map_value", "remove_header_map_value",
	"get_header_map_pairs", "set_header_map_pairs", "get_header_map_size",
	"get_buffer_status", "get_buffer_bytes", "set_buffer_bytes",
	"http_call", "grpc_call", "grpc_stream", "grpc_close", "grpc_cancel", "grpc_send",
	"set_tick_period_milliseconds", "get_current_time_nanoseconds", "define_metric",
	"increment_metric", "record_metric", "get_metric", "set_effective_context", "done",
	"call_foreign_function",
}

// proxyPerABI are the functions WasmBase::registerCallbacks (src/wasm.cc)
// registers for one ABI only (FOR_ALL_HOST_FUNCTIONS_ABI_SPECIFIC).
var proxyPerABI = map[string][]string{
	abi010: {"get_configuration", "continue_request", "continue_response", "clear_route_cache"},
	abi020: {"continue_stream", "close_stream"},
	abi021: {"continue_stream", "close_stream", "get_log_level"},
}

// envExtras are the non-proxy env functions Envoy's host registers for
// Emscripten-built modules.
var envExtras = []string{"pthread_equal", "emscripten_notify_memory_growth"}

// wasiEnvoy are the WASI functions Envoy's host registers, under both
// wasi_snapshot_preview1 and wasi_unstable: FOR_ALL_WASI_FUNCTIONS in
// include/proxy-wasm/exports.h, plus what proxy-wasm-cpp-host added for Go
// wasip1 modules (pull requests 427 and 533: sched_yield, poll_oneoff,
// fd_fdstat_set_flags, fd_filestat_get).
var wasiEnvoy = []string{
	"fd_write", "fd_read", "fd_seek", "fd_close", "fd_fdstat_get", "environ_get",
	"environ_sizes_get", "args_get", "args_sizes_get", "clock_time_get", "random_get",
	"proc_exit", "path_open", "fd_prestat_get", "fd_prestat_dir_name",
	"sched_yield", "poll_oneoff", "fd_fdstat_set_flags", "fd_filestat_get",
}

// WASI module names Envoy's host serves.
const (
	wasiPreview1 = "wasi_snapshot_preview1"
	wasiUnstable = "wasi_unstable"
)

// providedAny is every "module.name" Envoy's host provides under some ABI.
var providedAny = func() map[string]bool {
	m := map[string]bool{}
	for _, abi := range knownABIs {
		for n := range providedSet(abi) {
			m[n] = true
		}
	}
	return m
}()

// providedByABI caches providedSet per ABI.
var providedByABI = func() map[string]map[string]bool {
	m := map[string]map[string]bool{}
	for _, abi := range knownABIs {
		m[abi] = providedSet(abi)
	}
	return m
}()

// providedSet lists what Envoy's host registers for a module of one ABI.
func providedSet(abi string) map[string]bool {
	m := map[string]bool{}
	for _, n := range proxyCommon {
		m["env.proxy_"+n] = true
	}
	for _, n := range proxyPerABI[abi] {
		m["env.proxy_"+n] = true
	}
	for _, n := range envExtras {
		m["env."+n] = true
	}
	for _, n := range wasiEnvoy {
		m[wasiPreview1+"."+n] = true
		m[wasiUnstable+"."+n] = true
	}
	return m
}

// Provided says whether the host (Envoy's, as emulated) provides the
// imported function "module.name" under at least one ABI version. Some
// functions exist for one ABI only (proxy_get_configuration for 0.1.0,
// proxy_get_log_level for 0.2.1); the dry run checks the module's own ABI.
func Provided(moduleDotName string) bool {
	return providedAny[moduleDotName]
}

// providedFor says whether Envoy's host provides the function to a module
// that declares abi.
func providedFor(abi, moduleDotName string) bool {
	if set, ok := providedByABI[abi]; ok {
		return set[moduleDotName]
	}
	return providedAny[moduleDotName]
}
