package sandbox

import (
	"context"
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"
)

// WasmResult values host functions return (proxy-wasm-cpp-host
// include/proxy-wasm/wasm_api_impl.h, the spec's proxy_status_t).
const (
	resultOk                  = 0
	resultNotFound            = 1
	resultBadArgument         = 2
	resultInvalidMemoryAccess = 6
	resultEmpty               = 7
	resultCasMismatch         = 8
	resultInternalFailure     = 10
	resultUnimplemented       = 12
)

// Context ids the dry run uses: one root (plugin) context and one stream.
const (
	rootContextID   = 1
	streamContextID = 2
)

// Phases of a dry run; some host answers depend on the callback running.
const (
	phaseStart = iota
	phaseVMStart
	phaseConfigure
	phaseStream
)

// hostLimit bounds what the guest can make the host keep (shared data,
// queues, header maps, bodies, properties): bytes in all.
const hostLimit = 16 << 20

// runState is the host's state for one dry run. Host functions reach it
// through the context wazero hands them; a run uses one goroutine, so it
// needs no lock.
type runState struct {
	in       Input
	abi      string
	maxLog   int
	alloc    api.Function
	phase    int
	clockNs  int64
	logs     []LogLine
	logBytes int
	dropped  int
	kept     int // bytes held in the maps below, bounded by hostLimit

	props      map[string][]byte
	maps       [4][]pair
	buffers    [9][]byte
	shared     map[string]sharedValue
	queues     map[uint32]*queue
	queueNames map[string]uint32
	metrics    []metric
	nextToken  uint32
	effective  uint32
	streamOpen bool
}

// stateKey keys the runState in a context.
type stateKey struct{}

// stateOf returns the run's state, or nil for a call outside a dry run.
func stateOf(ctx context.Context) *runState {
	st, _ := ctx.Value(stateKey{}).(*runState)
	return st
}

// keep accounts for n more bytes the host holds for the guest; false when
// that would pass hostLimit.
func (st *runState) keep(n int) bool {
	if n < 0 || st.kept+n > hostLimit {
		return false
	}
	st.kept += n
	return true
}

// addLog captures a message within the byte cap; the rest is counted.
// msg may be a view of guest memory: it is copied.
func (st *runState) addLog(level int, msg []byte) {
	room := st.maxLog - st.logBytes
	if room <= 0 {
		st.dropped += len(msg)
		return
	}
	if len(msg) > room {
		st.dropped += len(msg) - room
		msg = msg[:room]
	}
	st.logBytes += len(msg)
	st.logs = append(st.logs, LogLine{Level: level, Message: string(msg)})
}

// tick advances the deterministic clock and returns nanoseconds since the
// fixed epoch of the dry run.
func (st *runState) tick() int64 {
	st.clockNs += 1_000_000 // every reading is one millisecond later
	return st.clockNs
}

// epochNs is the wall-clock time the dry run pretends to start at:
// 2025-01-01T00:00:00Z.
const epochNs = int64(1735689600) * 1_000_000_000

// guest memory helpers: every pointer and length comes from the guest and is
// checked by wazero's Memory methods, which return false when out of range.

// read returns a copy of guest memory [ptr, ptr+size).
func read(m api.Module, ptr, size uint32) ([]byte, bool) {
	mem := m.Memory()
	if mem == nil {
		return nil, false
	}
	b, ok := mem.Read(ptr, size)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), b...), true
}

// view returns guest memory [ptr, ptr+size) without copying; valid until
// the guest runs again.
func view(m api.Module, ptr, size uint32) ([]byte, bool) {
	mem := m.Memory()
	if mem == nil {
		return nil, false
	}
	return mem.Read(ptr, size)
}

func writeU32(m api.Module, ptr, v uint32) bool {
	mem := m.Memory()
	return mem != nil && mem.WriteUint32Le(ptr, v)
}

func writeU64(m api.Module, ptr uint32, v uint64) bool {
	mem := m.Memory()
	return mem != nil && mem.WriteUint64Le(ptr, v)
}

// copyOut hands data to the guest as Envoy's copyToPointerSize does: it
// allocates with the module's allocator, copies, and writes the pointer and
// size; empty data is pointer 0, size 0. A failed allocation or write is
// false. A trap or timeout inside the allocator unwinds the host call.
func (st *runState) copyOut(ctx context.Context, m api.Module, data []byte, ptrPtr, sizePtr uint32) bool {
	var ptr uint32
	if len(data) > 0 {
		p, ok := st.allocate(ctx, m, uint32(len(data)))
		if !ok || !m.Memory().Write(p, data) {
			return false
		}
		ptr = p
	}
	return writeU32(m, ptrPtr, ptr) && writeU32(m, sizePtr, uint32(len(data)))
}

// allocate calls the module's allocator. Errors (a trap, the deadline)
// unwind the guest call that called the host: they are re-raised as panics,
// which wazero turns back into the error of the outer call.
func (st *runState) allocate(ctx context.Context, m api.Module, size uint32) (uint32, bool) {
	if st.alloc == nil {
		return 0, false
	}
	res, err := st.alloc.Call(ctx, uint64(size))
	if err != nil {
		panic(allocError{err: err})
	}
	if len(res) != 1 || uint32(res[0]) == 0 {
		return 0, false
	}
	return uint32(res[0]), true
}

// allocError carries an allocator failure through the host call.
type allocError struct{ err error }

func (e allocError) Error() string { return "the allocator failed: " + e.err.Error() }
func (e allocError) Unwrap() error { return e.err }

// pair is one header.
type pair struct{ key, value string }

// marshalPairs encodes headers as Envoy does (marshalPairs in
// include/proxy-wasm/exports.h): count, then key and value sizes, then each
// key and value NUL-terminated.
func marshalPairs(ps []pair) []byte {
	size := 4
	for _, p := range ps {
		size += 8 + len(p.key) + 1 + len(p.value) + 1
	}
	b := make([]byte, 4, size)
	binary.LittleEndian.PutUint32(b, uint32(len(ps)))
	for _, p := range ps {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p.key)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p.value)))
	}
	for _, p := range ps {
		b = append(append(b, p.key...), 0)
		b = append(append(b, p.value...), 0)
	}
	return b
}

// unmarshalPairs decodes marshalPairs' format; malformed input is no pairs,
// as toPairs in proxy-wasm-cpp-host src/exports.cc treats it.
func unmarshalPairs(b []byte) []pair {
	if len(b) < 4 {
		return nil
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if 4+n*8 > uint64(len(b)) {
		return nil
	}
	sizes, pos := b[4:], 4+int(n)*8
	ps := make([]pair, 0, n)
	for i := range int(n) {
		k := uint64(binary.LittleEndian.Uint32(sizes[i*8:]))
		v := uint64(binary.LittleEndian.Uint32(sizes[i*8+4:]))
		if uint64(pos)+k+1+v+1 > uint64(len(b)) {
			return nil
		}
		key := string(b[pos : pos+int(k)])
		pos += int(k) + 1
		ps = append(ps, pair{key: key, value: string(b[pos : pos+int(v)])})
		pos += int(v) + 1
	}
	return ps
}
