package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/sandbox"
)

// Exit codes of Main.
const (
	ExitPass  = 0 // the module passed
	ExitFail  = 1 // the module failed; "Reason: message" on stderr
	ExitUsage = 2 // bad flags, or the check could not run (file, network)
)

// Usage is the first line of the command's help.
const Usage = "Usage: manager check <image-ref|file.wasm> [flags]"

// IO is where Main reads and writes.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// cliFlags are the command's flags before they become Options.
type cliFlags struct {
	config, pluginName, typ, output, username, memory, maxSize, logLevel string
	insecure, passwordStdin, jsonOut, compiler                           bool
	timeout                                                              time.Duration
	env                                                                  []string
	maxLogBytes                                                          int
}

func (c *cliFlags) define(fs *pflag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "File holding the pluginConfig (JSON or YAML, as under spec.pluginConfig); - reads stdin.")
	fs.StringVar(&c.pluginName, "plugin-name", "", "spec.pluginName: the plugin name (root id) handed to the module.")
	fs.StringVar(&c.typ, "type", string(v1alpha1.PluginTypeHTTP), "spec.type: HTTP or NETWORK.")
	fs.StringArrayVar(&c.env, "env", nil, "NAME=VALUE of spec.env (inline values; repeat the flag), the Wasm VM's environment.")
	fs.StringVar(&c.output, "output", string(v1alpha1.OutputAuto), "spec.output, for how the module receives the pluginConfig: Auto, WasmPlugin and TrafficExtension re-encode it as istiod does (numbers as doubles, keys sorted); EnvoyFilter passes the JSON as written.")
	fs.BoolVar(&c.insecure, "insecure", false, "Reach the registry over plain HTTP (a local registry).")
	fs.BoolVar(&c.insecure, "plain-http", false, "Same as --insecure.")
	fs.StringVar(&c.username, "username", "", "Registry user; the password is read from stdin (--password-stdin). Default: the docker config's credential for the host, else anonymous.")
	fs.BoolVar(&c.passwordStdin, "password-stdin", false, "Read the registry password from stdin (with --username).")
	fs.DurationVar(&c.timeout, "timeout", sandbox.DefaultTimeout, "Wall-clock limit of the dry run (the operator's --dry-run-timeout).")
	fs.StringVar(&c.memory, "memory-limit", FormatPages(sandbox.DefaultMemoryLimitPages), "Memory the module may use: MiB, or a quantity such as 64Mi (the operator's --dry-run-memory-limit).")
	fs.IntVar(&c.maxLogBytes, "max-log-bytes", sandbox.DefaultMaxLogBytes, "Bytes of the module's log kept (the operator's --dry-run-max-log-bytes).")
	fs.BoolVar(&c.compiler, "compiler", false, "Compile the module to machine code instead of interpreting it (the operator's --dry-run-compiler).")
	fs.StringVar(&c.maxSize, "max-module-size", "256Mi", "Largest module or layer read (the operator's --max-module-size).")
	fs.StringVar(&c.logLevel, "log-level", "info", "Least level of the module's log lines printed (trace, debug, info, warn, error, critical); Envoy logs info and above by default. --json prints all.")
	fs.BoolVar(&c.jsonOut, "json", false, "Print the report as JSON.")
}

// Main runs `manager check` with args (those after "check") and returns
// its exit code: ExitPass, ExitFail or ExitUsage.
func Main(ctx context.Context, args []string, std IO) int {
	o, pr, err := parseArgs(args, std)
	if errors.Is(err, pflag.ErrHelp) {
		return ExitPass
	}
	if err != nil {
		fmt.Fprintln(std.Stderr, "error:", err)
		fmt.Fprintln(std.Stderr, Usage+" (--help lists the flags)")
		return ExitUsage
	}
	if o.Credential == (auth.Credential{}) && !IsFile(o.Target) {
		var note string
		if o.Credential, note = DockerCredential(o.Target); note != "" {
			fmt.Fprintln(std.Stderr, "note:", note)
		}
	}
	res := Run(ctx, o)
	if pr.json {
		err = res.WriteJSON(std.Stdout)
	} else {
		err = res.WriteText(std.Stdout, pr.level)
	}
	if err != nil {
		fmt.Fprintln(std.Stderr, "error: writing the report:", err)
		return ExitUsage
	}
	return exitFor(res, std.Stderr)
}

// exitFor prints the failure, if any, on stderr and returns the exit code.
func exitFor(res *Result, stderr io.Writer) int {
	switch {
	case res.Passed():
		return ExitPass
	case res.Failed():
		fmt.Fprintf(stderr, "%s: %v\n", res.Reason, res.Err)
		return ExitFail
	case res.Step == StepFetch && !IsFile(res.Target):
		// The operator would retry this (FetchFailed): not the module's fault.
		fmt.Fprintf(stderr, "%s: %v\n", v1alpha1.ReasonFetchFailed, res.Err)
	default:
		fmt.Fprintln(stderr, "error:", res.Err)
	}
	return ExitUsage
}

// printing is how Main prints the report.
type printing struct {
	json  bool
	level int // least log level shown in text
}

// parseArgs turns the command line into Options; it reads stdin for
// --config - or --password-stdin.
func parseArgs(args []string, std IO) (Options, printing, error) {
	var c cliFlags
	fs := pflag.NewFlagSet("manager check", pflag.ContinueOnError)
	fs.SetOutput(std.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(std.Stderr, Usage+"\n\nRuns the operator's fetch, inspection and Proxy-Wasm dry run on a module and prints what it found.\n"+
			"Exit codes: 0 pass, 1 the module fails (Reason: message on stderr), 2 usage or environment error.\n\nFlags:")
		fs.PrintDefaults()
	}
	c.define(fs)
	if err := fs.Parse(args); err != nil {
		return Options{}, printing{}, err
	}
	if fs.NArg() != 1 {
		return Options{}, printing{}, fmt.Errorf("want one image reference or .wasm file, got %d arguments", fs.NArg())
	}
	level, err := ParseLogLevel(c.logLevel)
	if err != nil {
		return Options{}, printing{}, fmt.Errorf("--log-level: %w", err)
	}
	o, err := c.options(fs.Arg(0), std.Stdin)
	return o, printing{json: c.jsonOut, level: level}, err
}

// options validates the flags and builds Options for target.
func (c *cliFlags) options(target string, stdin io.Reader) (Options, error) {
	o := Options{
		Source:     Source{Target: target, Insecure: c.insecure},
		PluginName: c.pluginName, Type: c.typ, Output: v1alpha1.OutputKind(c.output),
	}
	if err := ValidateType(c.typ); err != nil {
		return o, err
	}
	switch o.Output {
	case v1alpha1.OutputAuto, v1alpha1.OutputWasmPlugin, v1alpha1.OutputTrafficExtension, v1alpha1.OutputEnvoyFilter:
	default:
		return o, fmt.Errorf("--output %q: want Auto, WasmPlugin, TrafficExtension or EnvoyFilter", c.output)
	}
	if c.timeout <= 0 || c.maxLogBytes <= 0 {
		return o, fmt.Errorf("--timeout and --max-log-bytes must be positive")
	}
	pages, err := ParseMemoryLimit(c.memory)
	if err != nil {
		return o, fmt.Errorf("--memory-limit: %w", err)
	}
	q, err := resource.ParseQuantity(c.maxSize)
	if err != nil || q.Value() <= 0 {
		return o, fmt.Errorf("--max-module-size %q is not a positive quantity", c.maxSize)
	}
	o.MaxModuleSize = q.Value()
	o.Sandbox = sandbox.Config{Timeout: c.timeout, MemoryLimitPages: pages, MaxLogBytes: c.maxLogBytes, Compiler: c.compiler}
	if o.Env, err = parseEnv(c.env); err != nil {
		return o, err
	}
	if c.config == "-" && c.passwordStdin {
		return o, fmt.Errorf("--config - and --password-stdin both want stdin")
	}
	if o.Credential, err = c.credential(stdin); err != nil {
		return o, err
	}
	o.PluginConfig, err = c.pluginConfig(stdin)
	return o, err
}

// parseEnv reads the --env NAME=VALUE pairs.
func parseEnv(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	env := make(map[string]string, len(pairs))
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--env %q: want NAME=VALUE", p)
		}
		env[name] = value
	}
	return env, nil
}

// credential reads --username and the password from stdin.
func (c *cliFlags) credential(stdin io.Reader) (auth.Credential, error) {
	if (c.username == "") != !c.passwordStdin {
		return auth.Credential{}, fmt.Errorf("--username and --password-stdin go together")
	}
	if c.username == "" {
		return auth.Credential{}, nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, 64<<10))
	if err != nil {
		return auth.Credential{}, fmt.Errorf("reading the password from stdin: %w", err)
	}
	pass := strings.TrimRight(string(b), "\r\n")
	if pass == "" {
		return auth.Credential{}, fmt.Errorf("--password-stdin: stdin is empty")
	}
	return auth.Credential{Username: c.username, Password: pass}, nil
}

// pluginConfig reads --config.
func (c *cliFlags) pluginConfig(stdin io.Reader) (*apiextensionsv1.JSON, error) {
	var b []byte
	var err error
	switch c.config {
	case "":
		return nil, nil
	case "-":
		b, err = io.ReadAll(io.LimitReader(stdin, maxConfigBytes+1))
	default:
		b, err = readLimited(c.config, maxConfigBytes+1)
	}
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("--config: over %d bytes (an object in the API server is at most 1.5 MiB)", maxConfigBytes)
	}
	cfg, err := ParsePluginConfig(b)
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", c.config, err)
	}
	return cfg, nil
}

// maxConfigBytes caps a pluginConfig file: a WasmExtension cannot hold more.
const maxConfigBytes = 3 << 19

func readLimited(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}
