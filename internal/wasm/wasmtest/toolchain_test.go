package wasmtest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goFixtureVersion is the Go toolchain that built testdata/go_wasip1.wasm;
// another version would produce other bytes.
const goFixtureVersion = "go1.26.8"

// TestRealToolchainFixturesUpToDate rebuilds the modules built by real
// toolchains with their recorded commands and compares the results with
// the committed files, so a source edit without a rebuild fails.
func TestRealToolchainFixturesUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("rebuilding takes seconds of CPU")
	}
	t.Run("go_wasip1", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.wasm")
		version, err := exec.Command("go", "env", "GOVERSION").Output()
		if err != nil {
			t.Skipf("no go command: %v", err)
		}
		if v := strings.TrimSpace(string(version)); v != goFixtureVersion {
			t.Skipf("toolchain %s, the fixture was built with %s", v, goFixtureVersion)
		}
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
		cmd.Dir = "testdata/go"
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=")
		compare(t, cmd, out, "testdata/go_wasip1.wasm")
	})
	t.Run("assemblyscript", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.wasm")
		asc := "testdata/assemblyscript/node_modules/.bin/asc"
		if _, err := os.Stat(asc); err != nil {
			t.Skip("run `npm ci` in testdata/assemblyscript first")
		}
		args := ascArgs(t, out)
		cmd := exec.Command("node_modules/.bin/asc", args...)
		cmd.Dir = "testdata/assemblyscript"
		compare(t, cmd, out, "testdata/assemblyscript.wasm")
	})
}

// ascArgs returns the arguments of package.json's asbuild script with the
// output file replaced by out.
func ascArgs(t *testing.T, out string) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/assemblyscript/package.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Scripts map[string]string `json:"scripts"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(pkg.Scripts["asbuild"])
	if len(fields) < 2 || fields[0] != "asc" {
		t.Fatalf("asbuild script %q does not run asc", pkg.Scripts["asbuild"])
	}
	args := fields[1:]
	for i, a := range args {
		if a == "-b" && i+1 < len(args) && args[i+1] == "../assemblyscript.wasm" {
			args[i+1] = out
			return args
		}
	}
	t.Fatalf("asbuild script %q does not write -b ../assemblyscript.wasm", pkg.Scripts["asbuild"])
	return nil
}

func compare(t *testing.T, cmd *exec.Cmd, out, committed string) {
	t.Helper()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, want) {
		t.Errorf("%s is stale: run `make -C internal/wasm/wasmtest/testdata real`", committed)
	}
}
