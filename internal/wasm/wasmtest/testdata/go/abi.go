//go:build wasip1

// The Proxy-Wasm ABI 0.2.1 glue: the host functions this plugin imports and
// the allocator the host calls. Signatures follow
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1
package main

import "unsafe"

// Log levels of proxy_log.
const (
	logDebug = 1
	logInfo  = 2
	logError = 4
)

// Buffer and map types.
const (
	bufferPluginConfiguration = 7
	mapRequestHeaders         = 0
)

//go:wasmimport env proxy_log
func proxyLog(level uint32, data unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bufferType, start, maxSize uint32, returnData, returnSize unsafe.Pointer) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32, returnData, returnSize unsafe.Pointer) uint32

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32) uint32

// allocations keeps every buffer handed to the host alive (the garbage
// collector cannot see the host's references), keyed by its address, until
// the plugin takes it back with take.
var allocations = map[uint32][]byte{}

//go:wasmexport proxy_abi_version_0_2_1
func abiVersion() {}

// proxyOnMemoryAllocate is the allocator the host calls to copy data into
// the module's memory.
//
//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) unsafe.Pointer {
	if size == 0 {
		size = 1
	}
	buf := make([]byte, size)
	p := unsafe.Pointer(unsafe.SliceData(buf))
	allocations[uint32(uintptr(p))] = buf
	return p
}

// take returns the size bytes at ptr the host wrote into memory from
// proxyOnMemoryAllocate and forgets the allocation. ok is false when ptr is
// not such an allocation.
func take(ptr, size uint32) (data []byte, ok bool) {
	buf, ok := allocations[ptr]
	if !ok || int(size) > len(buf) {
		return nil, false
	}
	delete(allocations, ptr)
	return buf[:size], true
}

// hostResult holds the two return slots of a host call that hands back data.
type hostResult struct {
	data uint32
	size uint32
}

func (r *hostResult) dataPtr() unsafe.Pointer { return unsafe.Pointer(&r.data) }
func (r *hostResult) sizePtr() unsafe.Pointer { return unsafe.Pointer(&r.size) }

// bytes is what the host returned, or nil when it returned nothing.
func (r *hostResult) bytes() []byte {
	if r.size == 0 {
		return nil
	}
	b, _ := take(r.data, r.size)
	return b
}

func logf(level uint32, msg string) {
	proxyLog(level, unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

// pluginConfiguration reads size bytes of the plugin configuration.
func pluginConfiguration(size uint32) ([]byte, uint32) {
	if size == 0 {
		return nil, 0
	}
	var r hostResult
	status := proxyGetBufferBytes(bufferPluginConfiguration, 0, size, r.dataPtr(), r.sizePtr())
	return r.bytes(), status
}

// requestHeader returns the value of the request header key.
func requestHeader(key string) (string, uint32) {
	var r hostResult
	status := proxyGetHeaderMapValue(mapRequestHeaders,
		unsafe.Pointer(unsafe.StringData(key)), uint32(len(key)), r.dataPtr(), r.sizePtr())
	return string(r.bytes()), status
}

func addRequestHeader(key, value string) uint32 {
	return proxyAddHeaderMapValue(mapRequestHeaders,
		unsafe.Pointer(unsafe.StringData(key)), uint32(len(key)),
		unsafe.Pointer(unsafe.StringData(value)), uint32(len(value)))
}
