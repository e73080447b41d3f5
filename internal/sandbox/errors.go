package sandbox

import "errors"

// Sentinel errors. Every error Run returns wraps exactly one of them.
var (
	// ErrMissingImport: the module imports a function Envoy's host does not
	// provide (the name is in the message). Reason MissingImport.
	ErrMissingImport = errors.New("module imports a function Envoy's host does not provide")
	// ErrInvalidABI: a known proxy_on_* callback, entry point, allocator or
	// imported host function has the wrong signature, or there is no
	// allocator. Reason InvalidABI.
	ErrInvalidABI = errors.New("module does not match the Proxy-Wasm ABI")
	// ErrConfigureFailed: proxy_on_vm_start or proxy_on_configure returned 0
	// (false); the message has the module's own log lines. Reason
	// ConfigureFailed.
	ErrConfigureFailed = errors.New("module refused its configuration")
	// ErrTrapped: a trap (unreachable, out-of-bounds access, stack overflow,
	// non-zero proc_exit ...) with the function it happened in. Reason
	// ModuleTrapped.
	ErrTrapped = errors.New("module trapped")
	// ErrTimeout: the wall-clock limit passed (an infinite loop, say), or the
	// caller gave up. Reason Timeout.
	ErrTimeout = errors.New("dry run ran past its time limit")
	// ErrMemoryLimit: memory.grow past the page limit (detected as described
	// in the package documentation) or initial memory over it. Reason
	// MemoryLimit.
	ErrMemoryLimit = errors.New("module needs more memory than the limit")
	// ErrInvalidModule: wazero refused to compile the bytes. Reason
	// InvalidWasm.
	ErrInvalidModule = errors.New("wazero could not compile the module")
)

// sentinels lists the sentinel errors, for tests and for exactlyOne.
var sentinels = []error{
	ErrMissingImport, ErrInvalidABI, ErrConfigureFailed, ErrTrapped,
	ErrTimeout, ErrMemoryLimit, ErrInvalidModule,
}
