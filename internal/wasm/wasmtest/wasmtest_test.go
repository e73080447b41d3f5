package wasmtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wasmext/wasmext/internal/testenv/ci"
	"github.com/wasmext/wasmext/internal/wasm"
)

// TestFixturesUpToDate reassembles every testdata/*.wat and compares the
// result with the committed .wasm, so a source edit without a rebuild fails.
func TestFixturesUpToDate(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		ci.Skipf(t, "wat2wasm not installed (Debian package wabt)")
	}
	sources, err := filepath.Glob("testdata/*.wat")
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != 16 {
		t.Fatalf("found %d .wat files, want 16: %v", len(sources), sources)
	}
	for _, src := range sources {
		args := []string{src, "-o", filepath.Join(t.TempDir(), "out.wasm")}
		if filepath.Base(src) == "features.wat" {
			args = append(args, "--debug-names")
		}
		committed, err := os.ReadFile(strings.TrimSuffix(src, ".wat") + ".wasm")
		if err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(wat2wasm, args...).CombinedOutput(); err != nil {
			t.Fatalf("wat2wasm %s: %v\n%s", src, err, b)
		}
		fresh, err := os.ReadFile(args[2])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("%s is stale: run `go generate ./internal/wasm/wasmtest`", src)
		}
	}
}

func TestVariantLeavesProxyWasmAlone(t *testing.T) {
	before := bytes.Clone(ProxyWasm)
	v := Variant(7)
	if !bytes.Equal(ProxyWasm, before) {
		t.Fatal("Variant modified ProxyWasm")
	}
	if !bytes.HasPrefix(v, ProxyWasm) || !bytes.HasSuffix(v, []byte(VariantSection+"7")) {
		t.Fatalf("Variant(7) = %x", v[len(ProxyWasm):])
	}
}

// TestDryRunFixturesInspect checks that every dry-run fixture is valid
// Proxy-Wasm with the ABI, imports and exports its doc comment promises.
func TestDryRunFixturesInspect(t *testing.T) {
	tests := []struct {
		name    string
		module  []byte
		abi     string
		imports []string // a subset of the imports
		exports []string // a subset of the exports
		absent  []string // exports it must not have
	}{
		{"TinyGoStart", TinyGoStart, "proxy_abi_version_0_2_1",
			[]string{"wasi_snapshot_preview1.proc_exit"},
			[]string{"_start", "malloc", "proxy_on_memory_allocate"}, []string{"_initialize"}},
		{"StartSection", StartSection, "proxy_abi_version_0_2_1", nil,
			[]string{"proxy_on_memory_allocate", "proxy_on_configure"}, []string{"_start", "_initialize", "malloc"}},
		{"MallocOnly", MallocOnly, "proxy_abi_version_0_2_1", []string{"env.proxy_get_property"},
			[]string{"_initialize", "malloc"}, []string{"proxy_on_memory_allocate", "_start"}},
		{"WASIUnstable", WASIUnstable, "proxy_abi_version_0_2_0",
			[]string{"wasi_unstable.args_get", "wasi_unstable.args_sizes_get", "wasi_unstable.environ_get",
				"wasi_unstable.environ_sizes_get", "wasi_unstable.fd_close", "wasi_unstable.fd_seek",
				"wasi_unstable.fd_write", "wasi_unstable.proc_exit"},
			[]string{"_start", "malloc"}, []string{"_initialize", "proxy_on_memory_allocate"}},
		{"NetworkFilter", NetworkFilter, "proxy_abi_version_0_2_1", nil,
			[]string{"proxy_on_new_connection", "proxy_on_downstream_data", "proxy_on_downstream_connection_close"},
			[]string{"proxy_on_request_headers"}},
		{"ABIv010", ABIv010, "proxy_abi_version_0_1_0", []string{"env.proxy_get_configuration"},
			[]string{"_start", "malloc", "proxy_on_request_headers"}, []string{"proxy_on_memory_allocate"}},
		{"GoWASIP1", GoWASIP1, "proxy_abi_version_0_2_1",
			[]string{"env.proxy_log", "env.proxy_get_buffer_bytes", "wasi_snapshot_preview1.poll_oneoff"},
			[]string{"_initialize", "proxy_on_memory_allocate", "proxy_on_configure", "proxy_on_request_headers"},
			[]string{"_start", "malloc"}},
		{"AssemblyScript", AssemblyScript, "proxy_abi_version_0_2_0",
			[]string{"env.proxy_get_property", "wasi_unstable.proc_exit"},
			[]string{"malloc", "proxy_on_configure", "proxy_on_request_headers"},
			[]string{"_start", "_initialize", "proxy_on_memory_allocate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := wasm.Inspect(context.Background(), tt.module)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if f.ABI != tt.abi {
				t.Errorf("ABI = %q, want %q", f.ABI, tt.abi)
			}
			for _, name := range tt.imports {
				if !slices.Contains(f.Imports, name) {
					t.Errorf("imports %v, want %s among them", f.Imports, name)
				}
			}
			for _, name := range tt.exports {
				if !slices.Contains(f.Exports, name) {
					t.Errorf("exports %v, want %s among them", f.Exports, name)
				}
			}
			for _, name := range tt.absent {
				if slices.Contains(f.Exports, name) {
					t.Errorf("exports %s, want it absent", name)
				}
			}
		})
	}
}
