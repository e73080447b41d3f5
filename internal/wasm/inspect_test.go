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

// inspectTests are modules and what Inspect must make of them.
var inspectTests = []struct {
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

func TestInspect(t *testing.T) {
	for _, tt := range inspectTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Inspect(t.Context(), tt.wasm)
			if tt.wantErr != nil {
				wantInspectError(t, got, err, tt.wantErr, tt.wantMsg...)
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

// wantInspectError fails t unless Inspect returned zero Facts and an error
// wrapping want whose message contains every one of msgs.
func wantInspectError(t *testing.T, got Facts, err, want error, msgs ...string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("Inspect() error = %v, want %v", err, want)
	}
	for _, s := range msgs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if got.ABI != "" || got.Imports != nil || got.Exports != nil {
		t.Errorf("Inspect() = %+v with error, want zero Facts", got)
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

// TestInspectABIMarkers pins what Envoy (proxy-wasm-cpp-host's
// getAbiVersion) accepts: only the three markers it knows and, of several,
// the first it knows in export order.
func TestInspectABIMarkers(t *testing.T) {
	got, err := Inspect(t.Context(), wasmtest.SeveralABIs)
	if err != nil {
		t.Fatal(err)
	}
	if got.ABI != "proxy_abi_version_0_2_0" {
		t.Errorf("ABI = %q, want proxy_abi_version_0_2_0: the first known marker in export order", got.ABI)
	}
	got, err = Inspect(t.Context(), wasmtest.UnknownABI)
	wantInspectError(t, got, err, ErrNotProxyWasm, "proxy_abi_version_0_3_0, proxy_abi_version_9", "does not know",
		"proxy_abi_version_0_1_0, proxy_abi_version_0_2_0, proxy_abi_version_0_2_1")
}

func TestAbiMarker(t *testing.T) {
	tests := []struct {
		exports     []string
		abi         string
		unknown     []string
		description string
	}{
		{[]string{"_start", "proxy_abi_version_0_2_1"}, "proxy_abi_version_0_2_1", nil, "one known marker"},
		{[]string{"proxy_abi_version_0_1_0", "proxy_abi_version_0_2_1"}, "proxy_abi_version_0_1_0", nil, "first wins, not highest"},
		{[]string{"proxy_abi_version_0_3_0", "proxy_abi_version_0_2_0"}, "proxy_abi_version_0_2_0", nil, "unknown skipped"},
		{[]string{"proxy_abi_version_9", "x", "proxy_abi_version_0_3_0"}, "", []string{"proxy_abi_version_9", "proxy_abi_version_0_3_0"}, "only unknown"},
		{[]string{"proxy_abi_version_0_2_1_", "proxy_abi_version_"}, "", []string{"proxy_abi_version_0_2_1_", "proxy_abi_version_"}, "near misses"},
		{[]string{"proxy_on_configure"}, "", nil, "no marker"},
		{nil, "", nil, "no exports"},
	}
	for _, tt := range tests {
		abi, unknown := abiMarker(tt.exports)
		if abi != tt.abi || !slices.Equal(unknown, tt.unknown) {
			t.Errorf("%s: abiMarker(%q) = %q, %q; want %q, %q", tt.description, tt.exports, abi, unknown, tt.abi, tt.unknown)
		}
	}
}

// TestInspectHints checks which cause an ErrNotProxyWasm message suggests.
func TestInspectHints(t *testing.T) {
	got, err := Inspect(t.Context(), wasmtest.LegacySDK)
	wantInspectError(t, got, err, ErrNotProxyWasm,
		"SDK from before ABI markers existed", "rebuild it with a current Proxy-Wasm SDK", "proxy_on_configure")
	msg := err.Error()
	// LegacySDK exports _start too, like most plugins: that must not make it
	// a WASI command.
	if strings.Contains(msg, "WASI command") {
		t.Errorf("error %q calls a module with proxy_on_* exports a WASI command", msg)
	}
	for exports, want := range map[string]string{
		"_start":                    "WASI command",
		"_start proxy_on_vm_start":  "SDK from before ABI markers",
		"proxy_on_context_create":   "SDK from before ABI markers",
		"main proxy_onconfigure":    "",
		"_initialize proxy_log_foo": "",
	} {
		got := hint(strings.Fields(exports))
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("hint(%s) = %q, want one containing %q", exports, got, want)
		}
	}
}

// TestInspectImportsOnce checks that an import listed twice is reported once
// and that imports come out sorted whatever their order in the module.
func TestInspectImportsOnce(t *testing.T) {
	got, err := Inspect(t.Context(), wasmtest.DuplicateImports)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"env.proxy_log", "wasi_snapshot_preview1.fd_write"}
	if !slices.Equal(got.Imports, want) {
		t.Errorf("Imports = %q, want %q", got.Imports, want)
	}
	if testing.Short() {
		return
	}
	f, err := Inspect(t.Context(), goPlugin(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(f.Imports) || len(slices.Compact(slices.Clone(f.Imports))) != len(f.Imports) {
		t.Errorf("Go plugin imports %q are not sorted and unique", f.Imports)
	}
}

// FuzzInspect: any input is Facts with a known ABI marker, or an error
// wrapping ErrInvalidWasm or ErrNotProxyWasm; never a panic. The committed
// corpus (testdata/fuzz/FuzzInspect, written by TestFuzzCorpus) adds the
// toolchain-built modules of wasmtest.
func FuzzInspect(f *testing.F) {
	for _, seed := range [][]byte{
		wasmtest.ProxyWasm, wasmtest.ProxyWasmV2, wasmtest.NotProxyWasm,
		wasmtest.ConfigureFails, wasmtest.ConfigureTraps, wasmtest.Invalid,
		wasmtest.Variant(0), wasmtest.Features, wasmtest.LegacySDK, wasmtest.UnknownABI,
		wasmtest.SeveralABIs, wasmtest.DuplicateImports, nil, []byte("\x00asm\x01\x00\x00\x00"),
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
		if !slices.Contains(knownABIs, facts.ABI) || !slices.Contains(facts.Exports, facts.ABI) {
			t.Fatalf("facts %+v without an ABI marker Envoy knows", facts)
		}
		if !slices.IsSorted(facts.Imports) || len(slices.Compact(slices.Clone(facts.Imports))) != len(facts.Imports) {
			t.Fatalf("imports %q not sorted and unique", facts.Imports)
		}
	})
}
