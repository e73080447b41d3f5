package wasmtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmext/wasmext/internal/testenv/ci"
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
	if len(sources) != 10 {
		t.Fatalf("found %d .wat files, want 10: %v", len(sources), sources)
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
