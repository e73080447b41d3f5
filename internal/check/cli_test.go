package check

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// run calls Main as the binary would and returns the exit code, stdout and stderr.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // never the developer's credentials
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

// TestMainExitCodes: 0 for a pass, 1 with "Reason: message" on stderr for a module the operator
// would refuse, 2 for usage and environment errors.
func TestMainExitCodes(t *testing.T) {
	good := writeFile(t, "good.wasm", wasmtest.ProxyWasm)
	bad := writeFile(t, "bad.wasm", wasmtest.ConfigureFails)
	notProxy := writeFile(t, "cmd.wasm", wasmtest.NotProxyWasm)
	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stdout string // a substring of stdout
		stderr string // stderr's prefix
	}{
		{"pass", []string{good}, ExitPass, "Result: PASS", ""},
		{"configure fails", []string{bad}, ExitFail, "configure_fails: rejecting the configuration", "ConfigureFailed: "},
		{"traps", []string{writeFile(t, "trap.wasm", wasmtest.ConfigureTraps)}, ExitFail, "Result: FAIL ModuleTrapped", "ModuleTrapped: "},
		{"timeout", []string{"--timeout", "1ns", good}, ExitFail, "Result: FAIL Timeout", "Timeout: "},
		{"not proxy-wasm", []string{notProxy}, ExitFail, "Result: FAIL NotProxyWasm", "NotProxyWasm: "},
		{"missing file", []string{t.TempDir() + "/none.wasm"}, ExitUsage, "Result: ERROR", "error: "},
		{"no argument", nil, ExitUsage, "", "error: want one image reference"},
		{"two arguments", []string{good, bad}, ExitUsage, "", "error: want one"},
		{"bad type", []string{"--type", "TCP", good}, ExitUsage, "", "error: --type"},
		{"bad output", []string{"--output", "Istio", good}, ExitUsage, "", "error: --output"},
		{"bad memory limit", []string{"--memory-limit", "0", good}, ExitUsage, "", "error: --memory-limit"},
		{"bad timeout", []string{"--timeout", "0s", good}, ExitUsage, "", "error: --timeout"},
		{"bad env", []string{"--env", "=x", good}, ExitUsage, "", "error: --env"},
		{"bad log level", []string{"--log-level", "loud", good}, ExitUsage, "", "error: --log-level"},
		{"unknown flag", []string{"--frobnicate", good}, ExitUsage, "", "error: unknown flag: --frobnicate"},
		{"password without user", []string{"--password-stdin", good}, ExitUsage, "", "error: --username and --password-stdin"},
		{"help", []string{"--help"}, ExitPass, "", "Usage: manager check"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := run(t, "", c.args...)
			if code != c.code || !strings.Contains(out, c.stdout) || !strings.HasPrefix(errOut, c.stderr) {
				t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout with %q, stderr starting %q", code, out, errOut, c.code, c.stdout, c.stderr)
			}
		})
	}
}

// TestMainConfigFromStdin: --config - reads YAML from stdin, and the module receives it.
func TestMainConfigFromStdin(t *testing.T) {
	code, out, errOut := run(t, "header: x-a\n", "--config", "-", "--plugin-name", "p", writeFile(t, "p.wasm", wasmtest.ProxyWasm))
	if code != ExitPass || !strings.Contains(out, `info: {"header":"x-a"}`) || !strings.Contains(out, `name "p", pluginConfig 16 bytes`) {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, _, errOut = run(t, "[1, 2]", "--config", "-", writeFile(t, "p.wasm", wasmtest.ProxyWasm))
	if code != ExitUsage || !strings.Contains(errOut, "pluginConfig must be an object") {
		t.Errorf("a list as pluginConfig: exit %d, stderr %s", code, errOut)
	}
}

// TestMainLogLevel: --log-level hides the lower lines of the text report and says how many.
func TestMainLogLevel(t *testing.T) {
	path := writeFile(t, "as.wasm", wasmtest.AssemblyScript)
	args := []string{"--plugin-name", wasmtest.AssemblyScriptRootID, path}
	_, info, _ := run(t, "", args...)
	_, debug, _ := run(t, "", append([]string{"--log-level", "debug"}, args...)...)
	if strings.Contains(info, "  debug: ") || !strings.Contains(info, "below info not shown") || !strings.Contains(debug, "  debug: ") {
		t.Errorf("--log-level info:\n%s\n--log-level debug:\n%s", info, debug)
	}
}

// TestMainEnvChangesTheDryRun: --env is part of the dry run's input, as spec.env is in the
// operator (the key it stores in status.module.dryRun changes with it).
func TestMainEnvChangesTheDryRun(t *testing.T) {
	path := writeFile(t, "p.wasm", wasmtest.ProxyWasm)
	keys := map[string]bool{}
	for _, args := range [][]string{{path}, {"--env", "MODE=strict", path}, {"--env", "MODE=lax", "--env", "X=1", path}} {
		code, out, errOut := run(t, "", append([]string{"--json"}, args...)...)
		var j JSONReport
		if err := json.Unmarshal([]byte(out), &j); err != nil || code != ExitPass {
			t.Fatalf("%v: exit %d, %v, stderr %s", args, code, err, errOut)
		}
		keys[j.DryRunKey] = true
	}
	if len(keys) != 3 {
		t.Errorf("dry-run keys %v; want one per environment", keys)
	}
}

// TestMainJSON: --json prints one object with the facts and the verdict.
func TestMainJSON(t *testing.T) {
	code, out, _ := run(t, "", "--json", writeFile(t, "bad.wasm", wasmtest.ConfigureFails))
	var j JSONReport
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if code != ExitFail || j.Passed || j.Reason != "ConfigureFailed" || j.ABI != "proxy_abi_version_0_2_1" || j.Format != FormatFile ||
		len(j.SHA256) != 64 || len(j.Logs) == 0 || j.Logs[0].Level != "info" || j.EntryPoint != "_initialize" {
		t.Errorf("exit %d, report %+v", code, j)
	}
}

// TestMainImage: an image reference with --plain-http, and with --username/--password-stdin
// against a registry that requires them.
func TestMainImage(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	cred := auth.Credential{Username: "ci", Password: "pw"}
	reg.RequireAuth(cred.Username, cred.Password)
	d, err := ocitest.Push(context.Background(), reg.Host, "acme/f:1", oci.FormatCNCF, wasmtest.ProxyWasm, ocitest.Credential(cred))
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Ref("acme/f:1")
	code, out, errOut := run(t, "pw\n", "--plain-http", "--username", "ci", "--password-stdin", ref)
	if code != ExitPass || !strings.Contains(out, d.String()) || !strings.Contains(out, "cncf") {
		t.Errorf("with credentials: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, _, errOut = run(t, "", "--plain-http", ref)
	if code != ExitFail || !strings.HasPrefix(errOut, "Unauthorized: ") {
		t.Errorf("anonymous: exit %d, stderr %s; want Unauthorized", code, errOut)
	}
}

// TestMainRegistryDown: a registry that cannot be reached is the environment's fault (exit 2),
// reported with the operator's transient Reason.
func TestMainRegistryDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	code, _, errOut := run(t, "", "--plain-http", addr+"/acme/f:1")
	if code != ExitUsage || !strings.HasPrefix(errOut, "FetchFailed: ") {
		t.Errorf("exit %d, stderr %s; want 2 and FetchFailed", code, errOut)
	}
}
