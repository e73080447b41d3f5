package sandbox

import (
	"context"
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"
)

// WASI poll_oneoff constants (wasi_snapshot_preview1 subscription and event
// layouts).
const (
	errnoInval      = 28
	eventClock      = 0
	eventFdRead     = 1
	eventFdWrite    = 2
	subscriptionLen = 48
	eventLen        = 32
	maxSleepNs      = int64(1) << 50 // a guest-chosen timeout cannot wrap the clock
)

// pollOneoff replaces wazero's poll_oneoff, whose subscription-count
// arithmetic wraps for huge counts and then indexes out of range. Go wasip1
// modules sleep through it, so it answers: a clock subscription fires at
// once and advances the dry run's clock by its timeout; stdin, stdout and
// stderr are always ready; other descriptors are EBADF.
func pollOneoff(ctx context.Context, m api.Module, stack []uint64) {
	stack[0] = uint64(poll(stateOf(ctx), m, u(stack, 0), u(stack, 1), u(stack, 2), u(stack, 3)))
}

func poll(st *runState, m api.Module, in, out, n, neventsPtr uint32) uint32 {
	mem := m.Memory()
	switch {
	case n == 0:
		return errnoInval
	case mem == nil,
		uint64(in)+uint64(n)*subscriptionLen > uint64(mem.Size()),
		uint64(out)+uint64(n)*eventLen > uint64(mem.Size()):
		return errnoFault
	}
	subs, _ := mem.Read(in, n*subscriptionLen)
	subs = append([]byte(nil), subs...)
	events := make([]byte, uint64(n)*eventLen)
	var sleep int64
	for i := range uint64(n) {
		sub, ev := subs[i*subscriptionLen:], events[i*eventLen:]
		copy(ev[0:8], sub[0:8]) // userdata
		ev[10] = sub[8]
		switch sub[8] {
		case eventClock:
			const absolute = 1
			if binary.LittleEndian.Uint16(sub[40:])&absolute == 0 {
				sleep = max(sleep, min(int64(binary.LittleEndian.Uint64(sub[24:])&(1<<62-1)), maxSleepNs))
			}
		case eventFdRead, eventFdWrite:
			if fd := binary.LittleEndian.Uint32(sub[16:]); fd > 2 {
				binary.LittleEndian.PutUint16(ev[8:], errnoBadf)
			}
		default:
			return errnoInval
		}
	}
	if !mem.Write(out, events) || !mem.WriteUint32Le(neventsPtr, n) {
		return errnoFault
	}
	if st != nil {
		st.clockNs += sleep
	}
	return 0
}
