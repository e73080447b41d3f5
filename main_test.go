package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmext/wasmext/internal/check"
	"github.com/wasmext/wasmext/internal/sandbox"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// TestParseFlagsDryRun: the --dry-run-* flags reach the sandbox's Config, with the sandbox's
// defaults, and bad values stop the operator before it starts.
func TestParseFlagsDryRun(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := sandbox.Config{Timeout: sandbox.DefaultTimeout, MemoryLimitPages: sandbox.DefaultMemoryLimitPages,
		MaxLogBytes: sandbox.DefaultMaxLogBytes, MaxConcurrent: 1, Compiler: dryRunCompilerDefault}
	if o.sandbox != want {
		t.Errorf("defaults: %+v; want %+v", o.sandbox, want)
	}
	o, err = parseFlags([]string{"--dry-run-timeout=3s", "--dry-run-memory-limit=64", "--dry-run-max-log-bytes=100",
		"--dry-run-concurrency=4", "--dry-run-compiler=" + boolString(!dryRunCompilerDefault)})
	if err != nil {
		t.Fatal(err)
	}
	want = sandbox.Config{Timeout: 3 * time.Second, MemoryLimitPages: 1024, MaxLogBytes: 100, MaxConcurrent: 4, Compiler: !dryRunCompilerDefault}
	if o.sandbox != want {
		t.Errorf("set: %+v; want %+v", o.sandbox, want)
	}
	if o, err = parseFlags([]string{"--dry-run-memory-limit=1Gi"}); err != nil || o.sandbox.MemoryLimitPages != 16384 {
		t.Errorf("1Gi: %+v, %v; want 16384 pages", o, err)
	}
	for _, bad := range []string{"--dry-run-timeout=0s", "--dry-run-timeout=-1s", "--dry-run-memory-limit=1Ki",
		"--dry-run-memory-limit=lots", "--dry-run-memory-limit=8Gi", "--dry-run-concurrency=0", "--dry-run-max-log-bytes=0"} {
		if _, err := parseFlags([]string{bad}); err == nil || !strings.Contains(err.Error(), "--dry-run-") {
			t.Errorf("%s: err %v; want an error naming the flag", bad, err)
		}
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestRunCheck: the check subcommand in process, as main calls it.
func TestRunCheck(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	path := filepath.Join(t.TempDir(), "plugin.wasm")
	if err := os.WriteFile(path, wasmtest.ConfigureFails, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := runCheck([]string{path}, check.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	if code != check.ExitFail || !strings.HasPrefix(errOut.String(), "ConfigureFailed: ") || !strings.Contains(out.String(), "rejecting the configuration") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, &out, &errOut)
	}
}

// TestCheckBinary builds the manager and runs `manager check` as CI would: the exit code and
// the Reason on stderr are the interface.
func TestCheckBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the manager")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "manager")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for name, c := range map[string]struct {
		wasm   []byte
		code   int
		stderr string
	}{
		"good.wasm": {wasmtest.ProxyWasm, 0, ""},
		"bad.wasm":  {wasmtest.ConfigureFails, 1, "ConfigureFailed: "},
		"cmd.wasm":  {wasmtest.NotProxyWasm, 1, "NotProxyWasm: "},
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, c.wasm, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "check", path)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || !strings.HasPrefix(stderr.String(), c.stderr) || !strings.Contains(stdout.String(), "proxy_abi_version") && c.code == 0 {
			t.Errorf("%s: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stderr starting %q", name, code, &stdout, &stderr, c.code, c.stderr)
		}
	}
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	if !strings.Contains(string(out), "manager check") || !strings.Contains(string(out), "--dry-run-timeout") {
		t.Errorf("--help does not name the check command and the dry-run flags:\n%s", out)
	}
}
