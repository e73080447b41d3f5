package sandbox

import (
	"context"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// Header map types (WasmHeaderMapType) and buffer types (WasmBufferType).
const (
	mapMax          = 7 // HttpCallResponseTrailers
	bufferMax       = 8 // CallData
	bufferVMConfig  = 6
	bufferPluginCfg = 7
)

// headerMap returns the map of type t: the four HTTP maps of the smoke
// stream exist, the gRPC and http_call maps do not (NotFound), other types
// are BadArgument.
func headerMap(st *runState, t uint32) (*[]pair, uint32) {
	switch {
	case t > mapMax:
		return nil, resultBadArgument
	case t < uint32(len(st.maps)):
		return &st.maps[t], resultOk
	}
	return nil, resultNotFound
}

// mapKey reads a header name; Envoy's header maps are lower case.
func mapKey(m api.Module, ptr, size uint32) (string, bool) {
	b, good := view(m, ptr, size)
	return strings.ToLower(string(b)), good
}

func mapFuncs() []hostFunc {
	return []hostFunc{
		{"proxy_get_header_map_value", word(5), hostGetHeader},
		{"proxy_add_header_map_value", word(5), func(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
			return setHeader(st, m, p, false)
		}},
		{"proxy_replace_header_map_value", word(5), func(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
			return setHeader(st, m, p, true)
		}},
		{"proxy_remove_header_map_value", word(3), hostRemoveHeader},
		{"proxy_get_header_map_pairs", word(3), func(ctx context.Context, st *runState, m api.Module, p []uint64) uint32 {
			hm, r := headerMap(st, u(p, 0))
			if hm == nil {
				return r
			}
			return status(st.copyOut(ctx, m, marshalPairs(*hm), u(p, 1), u(p, 2)))
		}},
		{"proxy_set_header_map_pairs", word(3), hostSetPairs},
		{"proxy_get_header_map_size", word(2), func(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
			hm, r := headerMap(st, u(p, 0))
			if hm == nil {
				return r
			}
			size := 0
			for _, kv := range *hm {
				size += len(kv.key) + len(kv.value)
			}
			return status(writeU32(m, u(p, 1), uint32(size)))
		}},
	}
}

// hostGetHeader is proxy_get_header_map_value(type, key, key_size,
// return_value_data, return_value_size).
func hostGetHeader(ctx context.Context, st *runState, m api.Module, p []uint64) uint32 {
	hm, r := headerMap(st, u(p, 0))
	if hm == nil {
		return r
	}
	key, good := mapKey(m, u(p, 1), u(p, 2))
	if !good {
		return resultInvalidMemoryAccess
	}
	for _, kv := range *hm {
		if kv.key == key {
			return status(st.copyOut(ctx, m, []byte(kv.value), u(p, 3), u(p, 4)))
		}
	}
	return resultNotFound
}

// setHeader adds, or replaces, header key in map type with value.
func setHeader(st *runState, m api.Module, p []uint64, replace bool) uint32 {
	hm, r := headerMap(st, u(p, 0))
	if hm == nil {
		return r
	}
	key, good := mapKey(m, u(p, 1), u(p, 2))
	value, good2 := view(m, u(p, 3), u(p, 4))
	if !good || !good2 {
		return resultInvalidMemoryAccess
	}
	if !st.keep(len(key) + len(value)) {
		return resultInternalFailure
	}
	if replace {
		for i, kv := range *hm {
			if kv.key == key {
				(*hm)[i].value = string(value)
				return resultOk
			}
		}
	}
	*hm = append(*hm, pair{key: key, value: string(value)})
	return resultOk
}

func hostRemoveHeader(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
	hm, r := headerMap(st, u(p, 0))
	if hm == nil {
		return r
	}
	key, good := mapKey(m, u(p, 1), u(p, 2))
	if !good {
		return resultInvalidMemoryAccess
	}
	kept := (*hm)[:0]
	for _, kv := range *hm {
		if kv.key != key {
			kept = append(kept, kv)
		}
	}
	*hm = kept
	return resultOk
}

func hostSetPairs(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
	hm, r := headerMap(st, u(p, 0))
	if hm == nil {
		return r
	}
	b, good := view(m, u(p, 1), u(p, 2))
	if !good {
		return resultInvalidMemoryAccess
	}
	if !st.keep(len(b)) {
		return resultInternalFailure
	}
	*hm = unmarshalPairs(b)
	return resultOk
}

// buffer returns the buffer of type t: bodies and stream data of the smoke
// stream and both configurations exist; http_call, gRPC and foreign-call
// buffers do not (NotFound); other types are BadArgument.
func buffer(st *runState, t uint32) (*[]byte, uint32) {
	switch {
	case t > bufferMax:
		return nil, resultBadArgument
	case t <= 3 || t == bufferVMConfig || t == bufferPluginCfg:
		return &st.buffers[t], resultOk
	}
	return nil, resultNotFound
}

func bufferFuncs() []hostFunc {
	return []hostFunc{
		{"proxy_get_buffer_status", word(3), func(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
			b, r := buffer(st, u(p, 0))
			if b == nil {
				return r
			}
			return status(writeU32(m, u(p, 1), uint32(len(*b))) && writeU32(m, u(p, 2), 0))
		}},
		{"proxy_get_buffer_bytes", word(5), hostGetBuffer},
		{"proxy_set_buffer_bytes", word(5), hostSetBuffer},
	}
}

// hostGetBuffer is proxy_get_buffer_bytes(type, start, max_size,
// return_data, return_size) with Envoy's rules (get_buffer_bytes in
// proxy-wasm-cpp-host src/exports.cc): the range is clamped to the buffer
// (SDKs ask for max_size 0xffffffff), a start past its end is BadArgument,
// and an empty range writes nothing.
func hostGetBuffer(ctx context.Context, st *runState, m api.Module, p []uint64) uint32 {
	b, r := buffer(st, u(p, 0))
	if b == nil {
		return r
	}
	start, length := uint64(u(p, 1)), uint64(u(p, 2))
	if start > uint64(len(*b)) {
		return resultBadArgument
	}
	length = min(length, uint64(len(*b))-start)
	if length == 0 {
		return resultOk
	}
	return status(st.copyOut(ctx, m, (*b)[start:start+length], u(p, 3), u(p, 4)))
}

// hostSetBuffer is proxy_set_buffer_bytes(type, start, size, data,
// data_size): replace size bytes at start (clamped) with data.
func hostSetBuffer(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
	b, r := buffer(st, u(p, 0))
	if b == nil {
		return r
	}
	data, good := view(m, u(p, 3), u(p, 4))
	if !good {
		return resultInvalidMemoryAccess
	}
	if !st.keep(len(data)) {
		return resultInternalFailure
	}
	start := min(uint64(u(p, 1)), uint64(len(*b)))
	end := min(start+uint64(u(p, 2)), uint64(len(*b)))
	out := make([]byte, 0, uint64(len(*b))-(end-start)+uint64(len(data)))
	out = append(append(append(out, (*b)[:start]...), data...), (*b)[end:]...)
	*b = out
	return resultOk
}

func callFuncs() []hostFunc {
	return []hostFunc{
		// proxy_http_call(uri, uri_size, headers, headers_size, body, body_size,
		// trailers, trailers_size, timeout, return_token)
		{"proxy_http_call", word(10), func(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
			return startCall(st, m, p, []int{0, 2, 4, 6}, 9)
		}},
		// proxy_grpc_call(service, size, service_name, size, method, size,
		// initial_metadata, size, request, size, timeout, return_token)
		{"proxy_grpc_call", word(12), func(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
			return startCall(st, m, p, []int{0, 2, 4, 6, 8}, 11)
		}},
		// proxy_grpc_stream(service, size, service_name, size, method, size,
		// initial_metadata, size, return_token)
		{"proxy_grpc_stream", word(9), func(_ context.Context, st *runState, m api.Module, p []uint64) uint32 {
			return startCall(st, m, p, []int{0, 2, 4, 6}, 8)
		}},
		{"proxy_grpc_cancel", word(1), knownToken},
		{"proxy_grpc_close", word(1), knownToken},
		{"proxy_grpc_send", word(4), func(ctx context.Context, st *runState, m api.Module, p []uint64) uint32 {
			if _, good := view(m, u(p, 1), u(p, 2)); !good {
				return resultInvalidMemoryAccess
			}
			return knownToken(ctx, st, m, p)
		}},
	}
}

// startCall checks the (pointer, size) arguments at the given indexes and
// writes a fresh token at the token pointer: the call is accepted and never
// answered.
func startCall(st *runState, m api.Module, p []uint64, ranges []int, tokenArg int) uint32 {
	for _, i := range ranges {
		if _, good := view(m, u(p, i), u(p, i+1)); !good {
			return resultInvalidMemoryAccess
		}
	}
	st.nextToken++
	return status(writeU32(m, u(p, tokenArg), st.nextToken))
}

// knownToken is Ok for a token startCall handed out, NotFound otherwise.
func knownToken(_ context.Context, st *runState, _ api.Module, p []uint64) uint32 {
	if t := u(p, 0); t == 0 || t > st.nextToken {
		return resultNotFound
	}
	return resultOk
}
