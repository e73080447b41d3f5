package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/wasmext/wasmext/internal/wasm"
)

// Defaults for the zero values of Config.
const (
	// DefaultTimeout bounds one dry run, instantiation included.
	DefaultTimeout = 10 * time.Second
	// DefaultMemoryLimitPages is 128 MiB: seven times the 17 MiB that
	// Emscripten (256 pages) and Zig (257-259 pages) modules start with.
	DefaultMemoryLimitPages = 2048
	// DefaultMaxLogBytes caps the captured proxy_log and fd_write bytes.
	DefaultMaxLogBytes = 64 << 10
	// DefaultResultCacheSize is how many dry-run results are remembered.
	DefaultResultCacheSize = 1024
)

// Filter types of Input.Type.
const (
	TypeHTTP    = "HTTP"
	TypeNetwork = "NETWORK"
)

// Config bounds a Sandbox. Zero values select the defaults above.
type Config struct {
	Timeout           time.Duration // whole dry run incl. instantiation; 0 -> DefaultTimeout
	MemoryLimitPages  uint32        // 64 KiB pages; 0 -> DefaultMemoryLimitPages
	MaxLogBytes       int           // captured proxy_log + fd_write bytes; 0 -> DefaultMaxLogBytes
	Compiler          bool          // wazero compiler instead of interpreter
	MaxConcurrent     int           // dry runs at once (compilations are bounded by Budget); 0 -> 1
	CompiledCacheSize int           // compiled modules kept after their last run (LRU, outside Budget); 0 -> none
	ResultCacheSize   int           // remembered results keyed by Key(in); 0 -> DefaultResultCacheSize
	// Budget bounds the Wasm bytes compiled or held compiled at once, a
	// module's share held from its compilation until its last run ends;
	// nil -> wasm.DefaultBudget, which Inspect shares.
	Budget *wasm.Budget
}

// withDefaults returns c with its zero values replaced by the defaults.
func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MemoryLimitPages == 0 || c.MemoryLimitPages > 65536 {
		c.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if c.MaxLogBytes <= 0 {
		c.MaxLogBytes = DefaultMaxLogBytes
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 1
	}
	if c.Budget == nil {
		c.Budget = wasm.DefaultBudget
	}
	if c.ResultCacheSize <= 0 {
		c.ResultCacheSize = DefaultResultCacheSize
	}
	return c
}

// Input is one module with the configuration a proxy would give it.
type Input struct {
	Wasm   []byte
	SHA256 string // hex sha256 of Wasm (keys the compile cache); "" -> computed; required with Source
	// Source returns the bytes when Wasm is nil. It is called only when the
	// module must be compiled, once its share of Config.Budget is granted,
	// so runs awaiting a compilation or a compiled module hold no bytes. An
	// error it returns comes back from Run as a *SourceError, and is not
	// remembered.
	Source       func(context.Context) ([]byte, error)
	Size         int64             // length of what Source returns, for the budget; 0 -> the whole budget
	PluginName   string            // Envoy's root_id / plugin_name as Istio renders it
	PluginConfig []byte            // bytes the proxy hands proxy_on_configure; nil/empty -> size 0
	VMConfig     []byte            // bytes for proxy_on_vm_start; usually empty
	Env          map[string]string // VM environment variables (vmConfig.env)
	Type         string            // "HTTP" (default when "") or "NETWORK"
}

// filterType normalises Input.Type: NETWORK (any case) is a network filter,
// anything else an HTTP filter, as Istio treats UNSPECIFIED_PLUGIN_TYPE.
func filterType(t string) string {
	if len(t) == len(TypeNetwork) && (t == TypeNetwork || equalFoldASCII(t, TypeNetwork)) {
		return TypeNetwork
	}
	return TypeHTTP
}

// equalFoldASCII compares two ASCII strings ignoring case.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

// Log levels of LogLine.Level, as Proxy-Wasm numbers them.
var levelNames = [...]string{"trace", "debug", "info", "warn", "error", "critical"}

// LogLine is one captured proxy_log call or fd_write (stdout is info,
// stderr error, as Envoy logs them).
type LogLine struct {
	Level   int // 0 trace .. 5 critical
	Message string
}

// String renders the line as "info: msg".
func (l LogLine) String() string {
	if l.Level >= 0 && l.Level < len(levelNames) {
		return levelNames[l.Level] + ": " + l.Message
	}
	return fmt.Sprintf("level %d: %s", l.Level, l.Message)
}

// Report is what one dry run found, on success and on failure alike.
type Report struct {
	ABI         string        // marker, e.g. proxy_abi_version_0_2_1
	EntryPoint  string        // "_initialize", "_start", "start section" or "none"
	Allocator   string        // "malloc" or "proxy_on_memory_allocate"
	Imports     []string      // module.name, sorted
	Logs        []LogLine     // captured, in order (also on failure)
	LogsDropped int           // bytes not captured because of MaxLogBytes
	Compile     time.Duration // 0 when the compiled module came from the cache
	Run         time.Duration
	PeakPages   uint32
	Cached      bool // no run for this call: a remembered result, or one shared with a concurrent call
}

// SourceError is an error of Input.Source: the bytes could not be
// obtained, so nothing was compiled or run.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return "reading the module: " + e.Err.Error() }

// Unwrap returns Input.Source's error.
func (e *SourceError) Unwrap() error { return e.Err }
