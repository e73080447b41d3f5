package sandbox

import (
	"context"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// hostFunc is one function of the emulated host. fn returns the WasmResult
// (or the function's value); it is ignored for functions without results.
type hostFunc struct {
	name string
	sig  signature
	fn   func(ctx context.Context, st *runState, m api.Module, p []uint64) uint32
}

// u reads parameter i as the i32 the guest passed.
func u(p []uint64, i int) uint32 { return uint32(p[i]) }

// goFunc adapts fn to wazero. Outside a dry run (no state in the context) a
// function answers InternalFailure.
func (h hostFunc) goFunc() api.GoModuleFunc {
	hasResult := len(h.sig.results) > 0
	return func(ctx context.Context, m api.Module, stack []uint64) {
		st := stateOf(ctx)
		var r uint32 = resultInternalFailure
		if st != nil {
			r = h.fn(ctx, st, m, stack)
		}
		if hasResult {
			stack[0] = uint64(r)
		}
	}
}

// envFuncs is every function the emulated host exports in module env: all
// env.proxy_* functions of ABI 0.1.0, 0.2.0 and 0.2.1 and the Emscripten
// helpers. The static check decides which of them a module of a given ABI
// may import, as Envoy registers some for one ABI only.
func envFuncs() []hostFunc {
	var fs []hostFunc
	fs = append(fs, generalFuncs()...)
	fs = append(fs, mapFuncs()...)
	fs = append(fs, bufferFuncs()...)
	fs = append(fs, callFuncs()...)
	fs = append(fs, dataFuncs()...)
	fs = append(fs, metricFuncs()...)
	return fs
}

// instantiateEnv builds and instantiates module env in the runtime.
func instantiateEnv(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder("env")
	for _, h := range envFuncs() {
		b.NewFunctionBuilder().
			WithGoModuleFunction(h.goFunc(), h.sig.params, h.sig.results).
			WithName(h.name).
			Export(h.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// hostSignatures reads the types of every function of the host modules, as
// "module.name", for the static import check.
func hostSignatures(rt wazero.Runtime) map[string]signature {
	sigs := map[string]signature{}
	for _, name := range []string{"env", wasiPreview1, wasiUnstable} {
		mod := rt.Module(name)
		if mod == nil {
			continue
		}
		for fname, def := range mod.ExportedFunctionDefinitions() {
			sigs[name+"."+fname] = signature{params: def.ParamTypes(), results: def.ResultTypes()}
		}
	}
	return sigs
}

// generalFuncs: logging, configuration, time, contexts, stream control.
func generalFuncs() []hostFunc {
	return []hostFunc{
		{"proxy_log", word(3), hostLog},
		{"proxy_get_log_level", word(1), func(_ context.Context, _ *runState, m api.Module, p []uint64) uint32 {
			return status(writeU32(m, u(p, 0), 2)) // info, Envoy's default level
		}},
		{"proxy_get_status", word(3), unimplemented},
		{"proxy_get_configuration", word(2), hostGetConfiguration},
		{"proxy_set_property", word(4), hostSetProperty},
		{"proxy_get_property", word(4), hostGetProperty},
		{"proxy_send_local_response", word(8), hostSendLocalResponse},
		{"proxy_continue_request", word(0), ok},
		{"proxy_continue_response", word(0), ok},
		{"proxy_clear_route_cache", word(0), ok},
		{"proxy_continue_stream", word(1), streamType},
		{"proxy_close_stream", word(1), streamType},
		{"proxy_set_tick_period_milliseconds", word(1), ok},
		{"proxy_get_current_time_nanoseconds", word(1), func(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
			return status(writeU64(m, u(p, 0), uint64(epochNs+st.tick())))
		}},
		{"proxy_set_effective_context", word(1), func(_ context.Context, st *runState, _ api.Module, p []uint64) uint32 {
			id := u(p, 0)
			if id == rootContextID || (id == streamContextID && st.streamOpen) {
				st.effective = id
				return resultOk
			}
			return resultBadArgument
		}},
		{"proxy_done", word(0), func(context.Context, *runState, api.Module, []uint64) uint32 {
			return resultNotFound // no context is pending finalization
		}},
		{"proxy_call_foreign_function", word(6), hostCallForeign},
		{"pthread_equal", word(2), func(_ context.Context, _ *runState, _ api.Module, p []uint64) uint32 {
			if u(p, 0) == u(p, 1) {
				return 1
			}
			return 0
		}},
		{"emscripten_notify_memory_growth", void(1), ok},
	}
}

// status is Ok for true, InvalidMemoryAccess for false.
func status(good bool) uint32 {
	if good {
		return resultOk
	}
	return resultInvalidMemoryAccess
}

func ok(context.Context, *runState, api.Module, []uint64) uint32 { return resultOk }

func unimplemented(context.Context, *runState, api.Module, []uint64) uint32 {
	return resultUnimplemented
}

// streamType checks the WasmStreamType of continue_stream/close_stream.
func streamType(_ context.Context, _ *runState, _ api.Module, p []uint64) uint32 {
	if u(p, 0) > 3 { // Request, Response, Downstream, Upstream
		return resultBadArgument
	}
	return resultOk
}

// hostLog captures proxy_log(level, message_data, message_size).
func hostLog(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
	level := u(p, 0)
	if level > 5 {
		return resultBadArgument
	}
	msg, good := view(m, u(p, 1), u(p, 2))
	if !good {
		return resultInvalidMemoryAccess
	}
	st.addLog(int(level), msg)
	return resultOk
}

// hostGetConfiguration is ABI 0.1.0's proxy_get_configuration: the VM
// configuration during proxy_on_vm_start, the plugin configuration otherwise.
func hostGetConfiguration(ctx context.Context, st *runState, m api.Module, p []uint64) uint32 {
	data := st.in.PluginConfig
	if st.phase == phaseVMStart {
		data = st.in.VMConfig
	}
	return status(st.copyOut(ctx, m, data, u(p, 0), u(p, 1)))
}

// hostSendLocalResponse checks its arguments and accepts the response.
func hostSendLocalResponse(_ context.Context, _ *runState, m api.Module, p []uint64) uint32 {
	for _, i := range []int{1, 3, 5} {
		if _, good := view(m, u(p, i), u(p, i+1)); !good {
			return resultInvalidMemoryAccess
		}
	}
	return resultOk
}

// hostCallForeign: Envoy registers foreign functions by name; the dry run
// has none, so a valid call answers NotFound, as Envoy does for an unknown
// name.
func hostCallForeign(_ context.Context, _ *runState, m api.Module, p []uint64) uint32 {
	if _, good := view(m, u(p, 0), u(p, 1)); !good {
		return resultInvalidMemoryAccess
	}
	if _, good := view(m, u(p, 2), u(p, 3)); !good {
		return resultInvalidMemoryAccess
	}
	return resultNotFound
}
