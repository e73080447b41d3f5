package wasm

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus under testdata/fuzz/FuzzInspect")

// inspectSeeds are FuzzInspect's committed corpus: every wasmtest module
// (toolchain-built ones included) but the 3 MB Go one, which is there with
// its function bodies stubbed out, and a truncation of it.
func inspectSeeds(t *testing.T) map[string][]byte {
	seeds := map[string][]byte{
		"proxy_wasm": wasmtest.ProxyWasm, "proxy_wasm_v2": wasmtest.ProxyWasmV2, "not_proxy_wasm": wasmtest.NotProxyWasm,
		"configure_fails": wasmtest.ConfigureFails, "configure_traps": wasmtest.ConfigureTraps, "features": wasmtest.Features,
		"legacy_sdk": wasmtest.LegacySDK, "unknown_abi": wasmtest.UnknownABI, "several_abis": wasmtest.SeveralABIs,
		"duplicate_imports": wasmtest.DuplicateImports, "tinygo_start": wasmtest.TinyGoStart, "start_section": wasmtest.StartSection,
		"malloc_only": wasmtest.MallocOnly, "wasi_unstable": wasmtest.WASIUnstable, "network_filter": wasmtest.NetworkFilter,
		"abi_v0_1_0": wasmtest.ABIv010, "assemblyscript": wasmtest.AssemblyScript,
		"go_wasip1_stubbed": stubBodies(t, wasmtest.GoWASIP1),
		"go_wasip1_head":    wasmtest.GoWASIP1[:4096],
	}
	return seeds
}

// stubBodies returns module without custom and data sections and with
// every function body replaced by "unreachable": a small valid module with
// the toolchain's own type, import, export and element sections.
func stubBodies(t *testing.T, module []byte) []byte {
	t.Helper()
	out := slices.Clone(module[:8])
	w := &walker{b: module, pos: 8}
	for w.pos < len(module) {
		id, err := w.nextSection()
		if err != nil {
			t.Fatalf("stubBodies: %v", err)
		}
		body := module[w.pos:w.end]
		switch id {
		case secCustom, secData, secDataCount:
			body = nil
		case secCode:
			n, err := w.u32()
			if err != nil {
				t.Fatalf("stubBodies: %v", err)
			}
			body = binary.AppendUvarint(nil, uint64(n))
			for range n {
				body = append(body, 3, 0, 0x00, 0x0b) // size 3: no locals, unreachable, end
			}
		}
		if body != nil {
			out = append(out, id)
			out = binary.AppendUvarint(out, uint64(len(body)))
			out = append(out, body...)
		}
		w.pos = w.end
	}
	return out
}

// TestFuzzCorpus fails when a seed under testdata/fuzz/FuzzInspect is
// missing or stale (`go test ./internal/wasm -run TestFuzzCorpus
// -update-corpus` rewrites them), and checks the stubbed Go module is what
// it stands for: Inspect finds the same facts in it as in the module.
func TestFuzzCorpus(t *testing.T) {
	for name, b := range inspectSeeds(t) {
		file := filepath.Join("testdata", "fuzz", "FuzzInspect", name)
		want := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b)
		if *updateCorpus {
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, want) {
			t.Errorf("seed %s is missing or stale (%v); run go test ./internal/wasm -run TestFuzzCorpus -update-corpus", file, err)
		}
	}
	if testing.Short() {
		return
	}
	stub, err := Inspect(t.Context(), stubBodies(t, wasmtest.GoWASIP1))
	if err != nil {
		t.Fatal(err)
	}
	full, err := Inspect(t.Context(), wasmtest.GoWASIP1)
	if err != nil {
		t.Fatal(err)
	}
	if stub.ABI != full.ABI || !slices.Equal(stub.Imports, full.Imports) || !slices.Equal(stub.Exports, full.Exports) {
		t.Errorf("stubbed Go module: %+v; the module: %+v", stub, full)
	}
}
