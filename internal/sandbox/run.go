package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// runner is one dry run of a compiled module.
type runner struct {
	s      *Sandbox
	parent context.Context // the caller's
	ctx    context.Context // with the deadline and the run state
	st     *runState
	lay    layout
	mod    api.Module
	rep    *Report
}

// dryRun checks the compiled module statically, then runs it as Envoy
// would start it and serve one stream. It fills rep as far as it got.
func (s *Sandbox) dryRun(parent context.Context, cm wazero.CompiledModule, lay layout, in Input, rep *Report) error {
	abi := abiMarker(lay.exports)
	rep.ABI = abi
	imports, err := checkImports(cm, abi, s.hostSigs)
	rep.Imports = imports
	if err != nil {
		return err
	}
	if abi == "" {
		return fmt.Errorf("%w: it exports no ABI marker Envoy knows (%s)", ErrInvalidABI, strings.Join(knownABIs, ", "))
	}
	if rep.Allocator, err = checkExports(cm, abi); err != nil {
		return err
	}
	st := newRunState(in, abi, s.cfg.MaxLogBytes)
	ctx, cancel := context.WithTimeout(parent, s.cfg.Timeout)
	defer cancel()
	r := &runner{s: s, parent: parent, ctx: context.WithValue(ctx, stateKey{}, st), st: st, lay: lay, rep: rep}
	start := time.Now()
	err = r.run(cm)
	rep.Run = time.Since(start)
	rep.Logs, rep.LogsDropped = st.logs, st.dropped
	return err
}

// newRunState prepares the host state: both configurations are readable
// buffers from the start.
func newRunState(in Input, abi string, maxLog int) *runState {
	st := &runState{in: in, abi: abi, maxLog: maxLog}
	st.buffers[bufferVMConfig] = in.VMConfig
	st.buffers[bufferPluginCfg] = in.PluginConfig
	return st
}

// run instantiates the module, starts it and serves one stream.
func (r *runner) run(cm wazero.CompiledModule) error {
	mod, err := r.s.rt.InstantiateModule(r.ctx, cm, moduleConfig(r.st))
	if err != nil {
		where := "instantiation"
		if r.lay.hasStart {
			where = "the start section"
		}
		return r.fail(where, err)
	}
	r.mod = mod
	defer func() {
		if mem := mod.Memory(); mem != nil {
			r.rep.PeakPages = mem.Size() / 65536
		}
		_ = mod.Close(context.WithoutCancel(r.ctx))
	}()
	r.st.alloc = mod.ExportedFunction(r.rep.Allocator)
	if err := r.entryPoint(); err != nil {
		return err
	}
	if err := r.root(); err != nil {
		return err
	}
	r.st.phase, r.st.streamOpen = phaseStream, true
	if filterType(r.st.in.Type) == TypeNetwork {
		return r.networkStream()
	}
	return r.httpStream()
}

// entryPoint runs _initialize (then main, if exported, as Envoy does) or
// else _start; proc_exit(0) ends either normally. Without both, a start
// section already ran at instantiation.
func (r *runner) entryPoint() error {
	_, hasInit := r.mod.ExportedFunctionDefinitions()["_initialize"]
	_, hasStart := r.mod.ExportedFunctionDefinitions()["_start"]
	switch {
	case hasInit:
		r.rep.EntryPoint = "_initialize"
		if err := r.start("_initialize"); err != nil {
			return err
		}
		return r.start("main", 0, 0)
	case hasStart:
		r.rep.EntryPoint = "_start"
		return r.start("_start")
	case r.lay.hasStart:
		r.rep.EntryPoint = "start section"
	default:
		r.rep.EntryPoint = "none"
	}
	return nil
}

// start calls an entry point, accepting proc_exit(0).
func (r *runner) start(name string, args ...uint64) error {
	_, _, err := r.callRaw(name, args...)
	var pe *procExitError
	if errors.As(err, &pe) && pe.code == 0 && r.ctx.Err() == nil {
		return nil
	}
	if err != nil {
		return r.fail(name, err)
	}
	return nil
}

// root creates the root context and configures the VM and the plugin.
func (r *runner) root() error {
	if _, err := r.call("proxy_on_context_create", rootContextID, 0); err != nil {
		return err
	}
	r.st.phase = phaseVMStart
	if err := r.configure("proxy_on_vm_start", len(r.st.in.VMConfig)); err != nil {
		return err
	}
	r.st.phase = phaseConfigure
	return r.configure("proxy_on_configure", len(r.st.in.PluginConfig))
}

// configure calls proxy_on_vm_start or proxy_on_configure; 0 is a refusal.
func (r *runner) configure(name string, size int) error {
	v, found, err := r.callRaw(name, rootContextID, uint64(size))
	switch {
	case err != nil:
		return r.fail(name, err)
	case found && uint32(v) == 0:
		return r.memoryOr(fmt.Errorf("%w: %s returned false; %s", ErrConfigureFailed, name, logSummary(r.st.logs)))
	}
	return nil
}

// httpStream serves one request: headers, a body ending the stream, the
// response headers, then the end of the context.
func (r *runner) httpStream() error {
	st := r.st
	st.maps[0] = []pair{
		{":authority", "dry-run.example"}, {":path", "/"}, {":method", "POST"}, {":scheme", "http"},
		{"content-type", "text/plain"}, {"content-length", "4"}, {"user-agent", "wasmext-dry-run"},
		{"x-request-id", "00000000-0000-4000-8000-000000000000"},
	}
	st.maps[2] = []pair{{":status", "200"}, {"content-type", "text/plain"}, {"content-length", "0"}}
	st.buffers[0] = []byte("ping")
	reqHeaders := []uint64{streamContextID, uint64(len(st.maps[0])), 0}
	respHeaders := []uint64{streamContextID, uint64(len(st.maps[2])), 1}
	if st.abi == abi010 { // no end_of_stream before ABI 0.2.0
		reqHeaders, respHeaders = reqHeaders[:2], respHeaders[:2]
	}
	steps := []struct {
		name string
		args []uint64
	}{
		{"proxy_on_context_create", []uint64{streamContextID, rootContextID}},
		{"proxy_on_request_headers", reqHeaders},
		{"proxy_on_request_body", []uint64{streamContextID, uint64(len(st.buffers[0])), 1}},
		{"proxy_on_response_headers", respHeaders},
	}
	for _, step := range steps {
		if _, err := r.call(step.name, step.args...); err != nil {
			return err
		}
	}
	return r.endStream()
}

// networkStream serves one connection: its start, one downstream chunk
// ending the stream, the downstream close, then the end of the context.
func (r *runner) networkStream() error {
	r.st.buffers[2] = []byte("ping")
	if _, err := r.call("proxy_on_context_create", streamContextID, rootContextID); err != nil {
		return err
	}
	if _, err := r.call("proxy_on_new_connection", streamContextID); err != nil {
		return err
	}
	if _, err := r.call("proxy_on_downstream_data", streamContextID, 4, 1); err != nil {
		return err
	}
	const peerRemote = 2
	if _, err := r.call("proxy_on_downstream_connection_close", streamContextID, peerRemote); err != nil {
		return err
	}
	return r.endStream()
}

// endStream ends the stream context as Envoy does: done, log, delete.
func (r *runner) endStream() error {
	for _, name := range []string{"proxy_on_done", "proxy_on_log", "proxy_on_delete"} {
		if _, err := r.call(name, streamContextID); err != nil {
			return err
		}
	}
	return nil
}

// call calls an export the module may lack (then it is skipped).
func (r *runner) call(name string, args ...uint64) (uint64, error) {
	v, _, err := r.callRaw(name, args...)
	if err != nil {
		return 0, r.fail(name, err)
	}
	return v, nil
}

// callRaw calls an export; found is false when the module lacks it.
func (r *runner) callRaw(name string, args ...uint64) (v uint64, found bool, err error) {
	f := r.mod.ExportedFunction(name)
	if f == nil {
		return 0, false, nil
	}
	res, err := f.Call(r.ctx, args...)
	if err != nil || len(res) == 0 {
		return 0, true, err
	}
	return res[0], true, nil
}

// fail classifies an error of a call into the module.
func (r *runner) fail(where string, err error) error {
	var exit *sys.ExitError
	var pe *procExitError
	switch {
	case r.parent.Err() != nil:
		return fmt.Errorf("%w: %s did not finish: the caller gave up: %w", ErrTimeout, where, r.parent.Err())
	case r.ctx.Err() != nil || (errors.As(err, &exit) && exit.ExitCode() >= sys.ExitCodeDeadlineExceeded):
		return fmt.Errorf("%w: %s was still running when the limit of %s passed", ErrTimeout, where, r.s.cfg.Timeout)
	case errors.As(err, &pe):
		return r.memoryOr(fmt.Errorf("%w: %s called %s; %s", ErrTrapped, where, pe, logSummary(r.st.logs)))
	}
	return r.memoryOr(fmt.Errorf("%w in %s: %s", ErrTrapped, where, trimTrace(err.Error())))
}

// memoryOr turns a failure into ErrMemoryLimit when the module's memory
// had reached the limit, within one sixteenth: memory.grow returning -1
// does not trap by itself, the allocator that sees it gives up (a trap, a
// non-zero exit, a refused configuration) instead.
func (r *runner) memoryOr(err error) error {
	if r.mod == nil || r.mod.Memory() == nil {
		return err
	}
	pages, limit := r.mod.Memory().Size()/65536, r.s.cfg.MemoryLimitPages
	if uint64(pages)*16 < uint64(limit)*15 {
		return err
	}
	return fmt.Errorf("%w: memory had grown to %d of %d pages (%d MiB) when it failed: %s",
		ErrMemoryLimit, pages, limit, limit/16, stripSentinel(err))
}

// stripSentinel renders err without its leading sentinel, so the result
// wraps exactly one sentinel.
func stripSentinel(err error) string {
	msg := err.Error()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return strings.TrimPrefix(strings.TrimPrefix(msg, s.Error()), ": ")
		}
	}
	return msg
}
