package sandbox

import (
	"context"

	"github.com/tetratelabs/wazero/api"
)

// sharedValue is one shared-data entry with its compare-and-swap counter.
type sharedValue struct {
	value []byte
	cas   uint32
}

// queue is one shared queue.
type queue struct{ items [][]byte }

// metric is one defined metric.
type metric struct {
	kind  uint32 // 0 counter, 1 gauge, 2 histogram
	value uint64
}

func dataFuncs() []hostFunc {
	return []hostFunc{
		{"proxy_get_shared_data", word(5), hostGetShared},
		{"proxy_set_shared_data", word(5), hostSetShared},
		{"proxy_register_shared_queue", word(3), func(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
			name, good := read(m, u(p, 0), u(p, 1))
			if !good {
				return resultInvalidMemoryAccess
			}
			return status(writeU32(m, u(p, 2), st.registerQueue(string(name))))
		}},
		// proxy_resolve_shared_queue(vm_id, size, name, size, return_token)
		{"proxy_resolve_shared_queue", word(5), func(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
			_, good := view(m, u(p, 0), u(p, 1))
			name, good2 := read(m, u(p, 2), u(p, 3))
			if !good || !good2 {
				return resultInvalidMemoryAccess
			}
			token, found := st.queueNames[string(name)]
			if !found {
				return resultNotFound
			}
			return status(writeU32(m, u(p, 4), token))
		}},
		{"proxy_enqueue_shared_queue", word(3), func(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
			q := st.queues[u(p, 0)]
			data, good := read(m, u(p, 1), u(p, 2))
			switch {
			case !good:
				return resultInvalidMemoryAccess
			case q == nil:
				return resultNotFound
			case !st.keep(len(data)):
				return resultInternalFailure
			}
			q.items = append(q.items, data)
			return resultOk
		}},
		{"proxy_dequeue_shared_queue", word(3), func(ctx context.Context, st *runState, m api.Module, p []uint64) uint32 {
			q := st.queues[u(p, 0)]
			switch {
			case q == nil:
				return resultNotFound
			case len(q.items) == 0:
				return resultEmpty
			}
			item := q.items[0]
			q.items = q.items[1:]
			st.kept -= len(item)
			return status(st.copyOut(ctx, m, item, u(p, 1), u(p, 2)))
		}},
	}
}

// registerQueue returns the token of the named queue, creating it.
func (st *runState) registerQueue(name string) uint32 {
	if t, found := st.queueNames[name]; found {
		return t
	}
	if st.queues == nil {
		st.queues, st.queueNames = map[uint32]*queue{}, map[string]uint32{}
	}
	t := uint32(len(st.queues) + 1)
	st.queues[t] = &queue{}
	st.queueNames[name] = t
	return t
}

// hostGetShared is proxy_get_shared_data(key, key_size, return_value,
// return_value_size, return_cas).
func hostGetShared(ctx context.Context, st *runState, m api.Module, p []uint64) uint32 {
	key, good := view(m, u(p, 0), u(p, 1))
	if !good {
		return resultInvalidMemoryAccess
	}
	v, found := st.shared[string(key)]
	if !found {
		return resultNotFound
	}
	if !st.copyOut(ctx, m, v.value, u(p, 2), u(p, 3)) {
		return resultInvalidMemoryAccess
	}
	return status(writeU32(m, u(p, 4), v.cas))
}

// hostSetShared is proxy_set_shared_data(key, key_size, value, value_size,
// cas): a non-zero cas must match the entry's.
func hostSetShared(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
	key, good := read(m, u(p, 0), u(p, 1))
	value, good2 := read(m, u(p, 2), u(p, 3))
	if !good || !good2 {
		return resultInvalidMemoryAccess
	}
	old := st.shared[string(key)]
	if cas := u(p, 4); cas != 0 && cas != old.cas {
		return resultCasMismatch
	}
	if !st.keep(len(key) + len(value) - len(old.value)) {
		return resultInternalFailure
	}
	if st.shared == nil {
		st.shared = map[string]sharedValue{}
	}
	st.shared[string(key)] = sharedValue{value: value, cas: old.cas + 1}
	return resultOk
}

func metricFuncs() []hostFunc {
	i32i64 := signature{params: []api.ValueType{api.ValueTypeI32, api.ValueTypeI64}, results: i32s(1)}
	return []hostFunc{
		// proxy_define_metric(type, name, name_size, return_id)
		{"proxy_define_metric", word(4), func(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
			kind := u(p, 0)
			if kind > 2 {
				return resultBadArgument
			}
			if _, good := view(m, u(p, 1), u(p, 2)); !good {
				return resultInvalidMemoryAccess
			}
			if !st.keep(16) {
				return resultInternalFailure
			}
			st.metrics = append(st.metrics, metric{kind: kind})
			return status(writeU32(m, u(p, 3), uint32(len(st.metrics))))
		}},
		{"proxy_increment_metric", i32i64, func(_ context.Context, st *runState, _ api.Module, p []uint64) uint32 {
			mt := st.metric(u(p, 0))
			switch {
			case mt == nil:
				return resultNotFound
			case mt.kind == 2:
				return resultBadArgument
			}
			mt.value += p[1] // an int64 offset, two's complement
			return resultOk
		}},
		{"proxy_record_metric", i32i64, func(_ context.Context, st *runState, _ api.Module, p []uint64) uint32 {
			mt := st.metric(u(p, 0))
			if mt == nil {
				return resultNotFound
			}
			mt.value = p[1]
			return resultOk
		}},
		{"proxy_get_metric", word(2), func(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
			mt := st.metric(u(p, 0))
			if mt == nil {
				return resultNotFound
			}
			return status(writeU64(m, u(p, 1), mt.value))
		}},
	}
}

// metric returns the metric with id, or nil.
func (st *runState) metric(id uint32) *metric {
	if id == 0 || id > uint32(len(st.metrics)) {
		return nil
	}
	return &st.metrics[id-1]
}
