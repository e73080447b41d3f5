package sandbox

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// signature is a function type.
type signature struct {
	params, results []api.ValueType
}

// String renders the signature as "(i32,i32)->i32".
func (s signature) String() string {
	return "(" + typeList(s.params) + ")->" + resultList(s.results)
}

func typeList(ts []api.ValueType) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = api.ValueTypeName(t)
	}
	return strings.Join(names, ",")
}

func resultList(ts []api.ValueType) string {
	if len(ts) == 0 {
		return "()"
	}
	return typeList(ts)
}

// equal compares two signatures.
func (s signature) equal(params, results []api.ValueType) bool {
	return slices.Equal(s.params, params) && slices.Equal(s.results, results)
}

// word is n i32 parameters returning i32; void n i32 parameters returning nothing.
func word(n int) signature { return signature{params: i32s(n), results: i32s(1)} }
func void(n int) signature { return signature{params: i32s(n)} }

func i32s(n int) []api.ValueType {
	ts := make([]api.ValueType, n)
	for i := range ts {
		ts[i] = api.ValueTypeI32
	}
	return ts
}

// callbackSigs are the module exports Envoy's host looks up, with the types
// it looks them up with (WasmBase::getFunctions in proxy-wasm-cpp-host
// src/wasm.cc; WasmCallWord<N> is N i32 parameters returning i32 and
// WasmCallVoid<N> returns nothing). A wrong type fails the module in Envoy.
var callbackSigs = map[string]signature{
	"_initialize":                             void(0),
	"_start":                                  void(0),
	"proxy_on_memory_allocate":                word(1),
	"malloc":                                  word(1),
	"proxy_validate_configuration":            word(2),
	"proxy_on_vm_start":                       word(2),
	"proxy_on_configure":                      word(2),
	"proxy_on_tick":                           void(1),
	"proxy_on_context_create":                 void(2),
	"proxy_on_new_connection":                 word(1),
	"proxy_on_downstream_data":                word(3),
	"proxy_on_upstream_data":                  word(3),
	"proxy_on_downstream_connection_close":    void(2),
	"proxy_on_upstream_connection_close":      void(2),
	"proxy_on_request_body":                   word(3),
	"proxy_on_request_trailers":               word(2),
	"proxy_on_request_metadata":               word(2),
	"proxy_on_response_body":                  word(3),
	"proxy_on_response_trailers":              word(2),
	"proxy_on_response_metadata":              word(2),
	"proxy_on_http_call_response":             void(5),
	"proxy_on_grpc_receive":                   void(3),
	"proxy_on_grpc_close":                     void(3),
	"proxy_on_grpc_create_initial_metadata":   void(3),
	"proxy_on_grpc_receive_initial_metadata":  void(3),
	"proxy_on_grpc_receive_trailing_metadata": void(3),
	"proxy_on_queue_ready":                    void(2),
	"proxy_on_foreign_function":               void(3),
	"proxy_on_done":                           word(1),
	"proxy_on_log":                            void(1),
	"proxy_on_delete":                         void(1),
}

// expectedExport is the signature Envoy expects of export name in a module
// of the given ABI, if it looks the name up at all. The header callbacks
// gained end_of_stream in ABI 0.2.0; main is looked up only next to
// _initialize.
func expectedExport(abi, name string, hasInitialize bool) (signature, bool) {
	switch name {
	case "proxy_on_request_headers", "proxy_on_response_headers":
		if abi == abi010 {
			return word(2), true
		}
		return word(3), true
	case "main":
		return word(2), hasInitialize
	}
	s, ok := callbackSigs[name]
	return s, ok
}

// checkImports refuses imports Envoy's host does not provide to a module of
// this ABI (ErrMissingImport) and imports whose type differs from the host's
// (ErrInvalidABI). hostSigs are the emulated host's function types.
func checkImports(cm wazero.CompiledModule, abi string, hostSigs map[string]signature) ([]string, error) {
	var names, missing []string
	for _, def := range cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		names = append(names, mod+"."+name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for _, n := range names {
		if !providedFor(abi, n) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return names, fmt.Errorf("%w: %s (Envoy's host provides no such function to a module of %s,"+
			" so it refuses to load the module)", ErrMissingImport, strings.Join(missing, ", "), abiLabel(abi))
	}
	for _, def := range cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		want, ok := hostSigs[mod+"."+name]
		if ok && !want.equal(def.ParamTypes(), def.ResultTypes()) {
			got := signature{params: def.ParamTypes(), results: def.ResultTypes()}
			return names, fmt.Errorf("%w: the module imports %s.%s as %s, but the host function is %s",
				ErrInvalidABI, mod, name, got, want)
		}
	}
	return names, nil
}

// checkExports refuses known exports with the wrong type and a module
// without an allocator, and returns the allocator Envoy would use:
// proxy_on_memory_allocate, or malloc in its absence.
func checkExports(cm wazero.CompiledModule, abi string) (string, error) {
	defs := cm.ExportedFunctions()
	_, hasInit := defs["_initialize"]
	for _, name := range slices.Sorted(maps.Keys(defs)) {
		def := defs[name]
		want, ok := expectedExport(abi, name, hasInit)
		if ok && !want.equal(def.ParamTypes(), def.ResultTypes()) {
			got := signature{params: def.ParamTypes(), results: def.ResultTypes()}
			return "", fmt.Errorf("%w: it exports %s as %s, but %s defines it as %s (Envoy refuses the module)",
				ErrInvalidABI, name, got, abiLabel(abi), want)
		}
	}
	for _, alloc := range []string{"proxy_on_memory_allocate", "malloc"} {
		if _, ok := defs[alloc]; ok {
			return alloc, nil
		}
	}
	return "", fmt.Errorf("%w: it exports neither proxy_on_memory_allocate nor malloc,"+
		" so the host cannot hand it any data (Envoy refuses the module)", ErrInvalidABI)
}

// abiLabel names an ABI for messages.
func abiLabel(abi string) string {
	if abi == "" {
		return "an unknown ABI version"
	}
	v := strings.ReplaceAll(strings.TrimPrefix(abi, "proxy_abi_version_"), "_", ".")
	return "Proxy-Wasm ABI " + v
}
