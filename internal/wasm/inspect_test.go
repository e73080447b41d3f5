package wasm

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

var (
	proxyImports = []string{"env.proxy_get_buffer_bytes", "env.proxy_log"}
	proxyExports = []string{
		"_initialize",
		"proxy_abi_version_0_2_1",
		"proxy_on_configure",
		"proxy_on_context_create",
		"proxy_on_memory_allocate",
		"proxy_on_request_headers",
		"proxy_on_vm_start",
	}
	proxyFacts = Facts{ABI: "proxy_abi_version_0_2_1", Imports: proxyImports, Exports: proxyExports}
)

func TestInspect(t *testing.T) {
	tests := []struct {
		name    string
		wasm    []byte
		want    Facts
		wantErr error
		wantMsg []string // substrings the error message must contain
	}{
		{name: "proxy wasm", wasm: wasmtest.ProxyWasm, want: proxyFacts},
		{name: "proxy wasm v2", wasm: wasmtest.ProxyWasmV2, want: proxyFacts},
		{name: "configure fails", wasm: wasmtest.ConfigureFails, want: proxyFacts},
		{name: "configure traps", wasm: wasmtest.ConfigureTraps, want: proxyFacts},
		{name: "variant", wasm: wasmtest.Variant(42), want: proxyFacts},
		{
			name:    "WASI command",
			wasm:    wasmtest.NotProxyWasm,
			wantErr: ErrNotProxyWasm,
			wantMsg: []string{"proxy_abi_version_*", "_start, memory (memory)", "WASI command"},
		},
		{
			name:    "garbage after header",
			wasm:    wasmtest.Invalid,
			wantErr: ErrInvalidWasm,
			wantMsg: []string{"unknown section id 255"},
		},
		{name: "nil", wasm: nil, wantErr: ErrInvalidWasm, wantMsg: []string{"empty input"}},
		{name: "empty", wasm: []byte{}, wantErr: ErrInvalidWasm, wantMsg: []string{"empty input"}},
		{
			name:    "truncated module",
			wasm:    wasmtest.ProxyWasm[:len(wasmtest.ProxyWasm)/2],
			wantErr: ErrInvalidWasm,
		},
		{name: "truncated header", wasm: []byte("\x00asm\x01"), wantErr: ErrInvalidWasm, wantMsg: []string{"truncated header"}},
		{name: "header only", wasm: []byte("\x00asm\x01\x00\x00\x00"), wantErr: ErrNotProxyWasm, wantMsg: []string{"exports nothing"}},
		{
			name:    "version 2",
			wasm:    []byte("\x00asm\x02\x00\x00\x00"),
			wantErr: ErrInvalidWasm,
			wantMsg: []string{"unsupported binary format version 02 00 00 00"},
		},
		{name: "gzip", wasm: []byte("\x1f\x8b\x08\x00rest"), wantErr: ErrInvalidWasm, wantMsg: []string{"gzip"}},
		{name: "WAT", wasm: []byte("  (module)"), wantErr: ErrInvalidWasm, wantMsg: []string{"WAT"}},
		{
			name:    "HTML",
			wasm:    []byte("<!DOCTYPE html><html>"),
			wantErr: ErrInvalidWasm,
			wantMsg: []string{`missing magic number \0asm, input starts with "<!DOCTYP"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Inspect(t.Context(), tt.wasm)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Inspect() error = %v, want %v", err, tt.wantErr)
				}
				for _, s := range tt.wantMsg {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if got.ABI != "" || got.Imports != nil || got.Exports != nil {
					t.Errorf("Inspect() = %+v with error, want zero Facts", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Inspect() error = %v", err)
			}
			if got.ABI != tt.want.ABI || !slices.Equal(got.Imports, tt.want.Imports) || !slices.Equal(got.Exports, tt.want.Exports) {
				t.Errorf("Inspect() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestInspectWrapsWazeroError(t *testing.T) {
	// A function declared to return an i32 whose body returns nothing:
	// well-formed, so only wazero's validation can object.
	mod := module(section(1, "\x01\x60\x00\x01\x7f"), section(3, "\x01\x00"), section(10, "\x01\x02\x00\x0b"))
	_, err := Inspect(t.Context(), mod)
	if !errors.Is(err, ErrInvalidWasm) {
		t.Fatalf("error = %v, want ErrInvalidWasm", err)
	}
	var wrapped interface{ Unwrap() []error }
	if !errors.As(err, &wrapped) || len(wrapped.Unwrap()) != 2 {
		t.Fatalf("error %q does not wrap wazero's error", err)
	}
	t.Log(err)
}

func TestInspectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Inspect(ctx, wasmtest.ProxyWasm); !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func TestVariantsAreDistinctAndValid(t *testing.T) {
	seen := map[[32]byte]string{sha256.Sum256(wasmtest.ProxyWasm): "ProxyWasm"}
	for i := range 4 {
		v := wasmtest.Variant(i)
		if _, err := Inspect(t.Context(), v); err != nil {
			t.Fatalf("Variant(%d): %v", i, err)
		}
		sum := sha256.Sum256(v)
		if prev, ok := seen[sum]; ok {
			t.Fatalf("Variant(%d) has the same sha256 as %s", i, prev)
		}
		seen[sum] = "Variant"
	}
	if sha256.Sum256(wasmtest.ProxyWasm) == sha256.Sum256(wasmtest.ProxyWasmV2) {
		t.Error("ProxyWasm and ProxyWasmV2 have the same sha256")
	}
}

func TestInspectConcurrent(t *testing.T) {
	mods := [][]byte{wasmtest.ProxyWasm, wasmtest.ProxyWasmV2, wasmtest.ProxyWasm, wasmtest.Variant(1)}
	errs := make(chan error, len(mods)*8)
	for range 8 {
		for _, m := range mods {
			go func() {
				_, err := Inspect(t.Context(), m)
				errs <- err
			}()
		}
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestCompareABI(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0", 1},
		{"proxy_abi_version_0_1_0", "proxy_abi_version_0_2_1", -1},
		{"proxy_abi_version_0_10_0", "proxy_abi_version_0_2_1", 1},
		{"proxy_abi_version_0_2", "proxy_abi_version_0_2_0", -1}, // equal numbers, string order
		{"proxy_abi_version_x", "proxy_abi_version_0_1_0", -1},
		{"proxy_abi_version_0_2_1", "proxy_abi_version_0_2_1", 0},
	}
	for _, tt := range tests {
		if got := compareABI(tt.a, tt.b); got != tt.want {
			t.Errorf("compareABI(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := compareABI(tt.b, tt.a); got != -tt.want {
			t.Errorf("compareABI(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestInspectPicksHighestABI(t *testing.T) {
	// A module exporting three ABI versions, assembled by hand: one type
	// () -> (), three functions, three exports.
	mod := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type section: func () -> ()
		"\x03\x04\x03\x00\x00\x00") // function section: 3 funcs of type 0
	names := []string{"proxy_abi_version_0_2_1", "proxy_abi_version_0_10_0", "proxy_abi_version_0_1_0"}
	var exp []byte
	exp = append(exp, byte(len(names)))
	for i, n := range names {
		exp = append(exp, byte(len(n)))
		exp = append(exp, n...)
		exp = append(exp, 0x00, byte(i)) // func export, index i
	}
	mod = append(mod, 0x07, byte(len(exp)))
	mod = append(mod, exp...)
	mod = append(mod, "\x0a\x0a\x03\x02\x00\x0b\x02\x00\x0b\x02\x00\x0b"...) // code: 3 empty bodies

	got, err := Inspect(t.Context(), mod)
	if err != nil {
		t.Fatal(err)
	}
	if got.ABI != "proxy_abi_version_0_10_0" {
		t.Errorf("ABI = %q, want proxy_abi_version_0_10_0", got.ABI)
	}
}

func FuzzInspect(f *testing.F) {
	for _, seed := range [][]byte{
		wasmtest.ProxyWasm, wasmtest.ProxyWasmV2, wasmtest.NotProxyWasm,
		wasmtest.ConfigureFails, wasmtest.ConfigureTraps, wasmtest.Invalid,
		wasmtest.Variant(0), wasmtest.Features, nil, []byte("\x00asm\x01\x00\x00\x00"),
		module(section(10, "\x01\x06\x01\xd0\x86\x03\x7f\x0b")),
		module(section(0, "\x04name\x01\x05", huge)),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		facts, err := Inspect(t.Context(), b)
		if err != nil {
			if !errors.Is(err, ErrInvalidWasm) && !errors.Is(err, ErrNotProxyWasm) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if !strings.HasPrefix(facts.ABI, abiPrefix) || !slices.Contains(facts.Exports, facts.ABI) {
			t.Fatalf("facts %+v without a valid ABI", facts)
		}
	})
}
