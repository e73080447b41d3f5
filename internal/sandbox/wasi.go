package sandbox

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// WASI errno values Envoy's fd_write returns.
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
)

// instantiateWASI instantiates wazero's wasi_snapshot_preview1 twice, as
// wasi_snapshot_preview1 and as wasi_unstable (Envoy serves the same
// functions under both names), with three functions replaced: fd_write
// logs as Envoy's does, proc_exit unwinds the call without closing the
// module, and poll_oneoff (see pollOneoff) never waits.
func instantiateWASI(ctx context.Context, rt wazero.Runtime) error {
	for _, name := range []string{wasiPreview1, wasiUnstable} {
		b := rt.NewHostModuleBuilder(name)
		wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(fdWrite), i32s(4), i32s(1)).
			WithParameterNames("fd", "iovs", "iovs_len", "result.nwritten").
			Export("fd_write")
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(pollOneoff), i32s(4), i32s(1)).
			WithParameterNames("in", "out", "nsubscriptions", "result.nevents").
			Export("poll_oneoff")
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(procExit), i32s(1), nil).
			WithParameterNames("rval").
			Export("proc_exit")
		if _, err := b.Instantiate(ctx); err != nil {
			return fmt.Errorf("instantiating %s: %w", name, err)
		}
	}
	return nil
}

// procExitError unwinds a guest call that called proc_exit. Unlike wazero's
// own proc_exit it leaves the module open: a _start ending in proc_exit(0)
// is how TinyGo and older C++ modules finish starting as a reactor.
type procExitError struct{ code uint32 }

func (e *procExitError) Error() string { return fmt.Sprintf("proc_exit(%d)", e.code) }

func procExit(_ context.Context, _ api.Module, stack []uint64) {
	panic(&procExitError{code: uint32(stack[0])})
}

// fdWrite is Envoy's fd_write (writevImpl in proxy-wasm-cpp-host
// src/exports.cc): stdout is logged at info, stderr at error, one line per
// call with a trailing newline removed; other descriptors are EBADF.
func fdWrite(ctx context.Context, m api.Module, stack []uint64) {
	stack[0] = uint64(writev(stateOf(ctx), m, stack))
}

func writev(st *runState, m api.Module, p []uint64) uint32 {
	level := 2
	switch u(p, 0) {
	case 1:
	case 2:
		level = 4
	default:
		return errnoBadf
	}
	iovs, n := uint64(u(p, 1)), uint64(u(p, 2))
	mem := m.Memory()
	if mem == nil || iovs+n*8 > uint64(mem.Size()) {
		return errnoFault
	}
	var msg []byte
	var total uint64
	room := 0
	if st != nil {
		room = max(st.maxLog-st.logBytes, 0)
	}
	for i := range n {
		ptr, _ := mem.ReadUint32Le(uint32(iovs + i*8))
		size, _ := mem.ReadUint32Le(uint32(iovs + i*8 + 4))
		b, good := mem.Read(ptr, size)
		if !good {
			return errnoFault
		}
		total += uint64(size)
		if take := min(len(b), room-len(msg)); take > 0 {
			msg = append(msg, b[:take]...)
		}
	}
	if st != nil && total > 0 {
		newline := 0
		if uint64(len(msg)) == total && msg[len(msg)-1] == '\n' {
			msg, newline = msg[:len(msg)-1], 1
		}
		st.addLog(level, msg)
		st.dropped += int(total - uint64(len(msg)+newline))
	}
	if !writeU32(m, u(p, 3), uint32(total)) {
		return errnoFault
	}
	return errnoSuccess
}

// moduleConfig is the WASI view of one dry run: no arguments, no files, no
// network, the VM's environment variables, and a clock and random source
// that are the same on every run. Sleeping advances the clock instead of
// waiting, so a module that sleeps cannot stall the dry run.
func moduleConfig(st *runState) wazero.ModuleConfig {
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithStdin(eofReader{}).
		WithStdout(io.Discard).
		WithStderr(io.Discard).
		WithRandSource(rand.NewChaCha8([32]byte{'w', 'a', 's', 'm', 'e', 'x', 't'})).
		WithWalltime(func() (int64, int32) {
			ns := epochNs + st.tick()
			return ns / 1e9, int32(ns % 1e9)
		}, sys.ClockResolution(1)).
		WithNanotime(st.tick, sys.ClockResolution(1)).
		WithNanosleep(func(ns int64) { st.clockNs += max(ns, 0) }).
		WithOsyield(func() {})
	for _, k := range slices.Sorted(maps.Keys(st.in.Env)) {
		if k != "" && !strings.ContainsAny(k, "=\x00") && !strings.Contains(st.in.Env[k], "\x00") {
			cfg = cfg.WithEnv(k, st.in.Env[k])
		}
	}
	return cfg
}

// eofReader is an empty stdin.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
