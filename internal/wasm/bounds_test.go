package wasm

import (
	"context"
	"encoding/binary"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// module assembles a Wasm binary from sections made by section.
func module(sections ...[]byte) []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		out = append(out, s...)
	}
	return out
}

// section encodes one section: id, size, body.
func section(id byte, body ...string) []byte {
	b := []byte(strings.Join(body, ""))
	out := binary.AppendUvarint([]byte{id}, uint64(len(b)))
	return append(out, b...)
}

// huge is 2^32-1 as an unsigned LEB128.
const huge = "\xff\xff\xff\xff\x0f"

// TestCheckBoundsRejectsHostile feeds modules whose counts or lengths would
// make wazero's decoder allocate gigabytes (and the runtime abort the
// process) if they reached it.
func TestCheckBoundsRejectsHostile(t *testing.T) {
	tests := []struct {
		name string
		wasm []byte
		want string
	}{
		{"section size", module([]byte("\x0a\x20\x00")), "declares 32 bytes but only 1 remain"},
		{"type params", module(section(1, "\x01\x60", huge)), "parameters cannot fit"},
		{"imports", module(section(2, huge)), "imports cannot fit"},
		{"functions", module(section(3, huge)), "functions cannot fit"},
		{"tables", module(section(4, huge)), "tables cannot fit"},
		{"globals", module(section(6, huge)), "globals cannot fit"},
		{"exports", module(section(7, huge)), "exports cannot fit"},
		{"export name", module(section(7, "\x01", huge)), "length 4294967295 exceeds"},
		{"element segments", module(section(9, huge)), "element segments cannot fit"},
		{"element func indices", module(section(9, "\x01\x00\x41\x00\x0b", huge)), "element function indices cannot fit"},
		{"element exprs", module(section(9, "\x01\x05\x70", huge)), "element expressions cannot fit"},
		{"function bodies", module(section(10, huge)), "function bodies cannot fit"},
		{"body size", module(section(10, "\x01", huge)), "function body of 4294967295 bytes"},
		{"locals", module(section(10, "\x01\x08\x01", huge, "\x7f\x0b")), "more than 50000 locals"},
		{"locals summed", module(section(10, "\x01\x08\x02\xd0\x86\x03\x7f\x01\x7e\x0b")), "more than 50000 locals"},
		{"data segments", module(section(11, huge)), "data segments cannot fit"},
		{"data bytes", module(section(11, "\x01\x01", huge)), "length 4294967295 exceeds"},
		{"custom section name", module(section(0, huge)), "length 4294967295 exceeds"},
		{"function names", module(section(0, "\x04name\x01\x05", huge)), "function names cannot fit"},
		{"local names", module(section(0, "\x04name\x02\x07\x01\x00", huge)), "local names cannot fit"},
		{
			// The subsection claims more bytes than the section has, so
			// wazero would go on reading the next section as name
			// subsections and allocate for its 2^32-1 "function names".
			name: "name section overrun",
			wasm: module(section(0, "\x04name\x00\x10\x00"), section(1, huge)),
			want: "unexpected end of section",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkBounds(tt.wasm)
			if !errors.Is(err, ErrInvalidWasm) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("checkBounds() = %v, want ErrInvalidWasm containing %q", err, tt.want)
			}
			if _, err := Inspect(t.Context(), tt.wasm); !errors.Is(err, ErrInvalidWasm) {
				t.Fatalf("Inspect() = %v, want ErrInvalidWasm", err)
			}
		})
	}
}

// TestCheckBoundsAcceptsValid makes sure the bounds check never rejects a
// module that wazero accepts.
func TestCheckBoundsAcceptsValid(t *testing.T) {
	modules := map[string][]byte{
		"ProxyWasm":        wasmtest.ProxyWasm,
		"ProxyWasmV2":      wasmtest.ProxyWasmV2,
		"NotProxyWasm":     wasmtest.NotProxyWasm,
		"ConfigureFails":   wasmtest.ConfigureFails,
		"ConfigureTraps":   wasmtest.ConfigureTraps,
		"Features":         wasmtest.Features,
		"LegacySDK":        wasmtest.LegacySDK,
		"UnknownABI":       wasmtest.UnknownABI,
		"SeveralABIs":      wasmtest.SeveralABIs,
		"DuplicateImports": wasmtest.DuplicateImports,
		"Variant":          wasmtest.Variant(1),
		"header only":      module(),
		// Forms wat2wasm does not emit: a data segment with an explicit
		// memory index (prefix 2), an empty name section and the largest
		// allowed locals.
		"data prefix 2":      module(section(5, "\x01\x00\x01"), section(11, "\x01\x02\x00\x41\x00\x0b\x02hi")),
		"empty name section": module(section(0, "\x04name")),
		"50000 locals": module(section(1, "\x01\x60\x00\x00"), section(3, "\x01\x00"),
			section(10, "\x01\x06\x01\xd0\x86\x03\x7f\x0b")),
	}
	if !testing.Short() {
		modules["Go wasip1 plugin"] = goPlugin(t)
	}
	for name, m := range modules {
		t.Run(name, func(t *testing.T) {
			if complete, err := walk(m); err != nil || !complete {
				t.Fatalf("walk() = %v, %v; want a complete walk", complete, err)
			}
			_, err := Inspect(t.Context(), m)
			if err != nil && !errors.Is(err, ErrNotProxyWasm) {
				t.Fatalf("Inspect() = %v", err)
			}
			// Inspect looks for the ABI marker among functionExports: it
			// must see every function export that wazero sees.
			got, want := slices.Sorted(slices.Values(functionExports(m))), wazeroExports(t, m)
			if !slices.Equal(got, want) {
				t.Errorf("functionExports() = %q, wazero exports %q", got, want)
			}
		})
	}
}

// wazeroExports compiles m and returns its function exports, sorted.
func wazeroExports(t *testing.T, m []byte) []string {
	t.Helper()
	rt := wazero.NewRuntimeWithConfig(t.Context(), runtimeConfig())
	defer rt.Close(context.Background())
	cm, err := rt.CompileModule(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(cm.ExportedFunctions()))
}

func TestInspectFeatures(t *testing.T) {
	f, err := Inspect(t.Context(), wasmtest.Features)
	if err != nil {
		t.Fatal(err)
	}
	want := Facts{
		ABI:     "proxy_abi_version_0_2_1",
		Imports: []string{"env.proxy_log"},
		Exports: []string{"dispatch", "proxy_abi_version_0_2_1", "swap"},
	}
	if f.ABI != want.ABI || strings.Join(f.Imports, ",") != strings.Join(want.Imports, ",") ||
		strings.Join(f.Exports, ",") != strings.Join(want.Exports, ",") {
		t.Errorf("Inspect() = %+v, want %+v", f, want)
	}
}

// goPluginSource is a Proxy-Wasm-shaped reactor written in Go: a large,
// real-world module (about 2.6 MB) built by the standard toolchain.
const goPluginSource = `package main

import "fmt"

//go:wasmexport proxy_abi_version_0_2_1
func abi() {}

//go:wasmexport proxy_on_configure
func onConfigure(rootID, size int32) int32 {
	fmt.Println("configured", rootID, size)
	return 1
}

func main() {}
`

var goPluginOnce = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "wasmext-goplugin")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for name, data := range map[string]string{
		"go.mod":  "module example.com/plugin\n\ngo 1.26\n",
		"main.go": goPluginSource,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return nil, err
		}
	}
	out := filepath.Join(dir, "plugin.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-mod=mod", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, errors.New(string(b))
	}
	return os.ReadFile(out)
})

// goPlugin builds goPluginSource once per test binary; the first build of
// the wasip1 standard library takes a while, later ones hit the build cache.
func goPlugin(tb testing.TB) []byte {
	tb.Helper()
	b, err := goPluginOnce()
	if err != nil {
		tb.Skipf("cannot build the Go wasip1 plugin: %v", err)
	}
	return b
}
