package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/wasmext/wasmext/internal/check"
	"github.com/wasmext/wasmext/internal/sandbox"
)

// dryRunCompilerDefault is --dry-run-compiler's default: the interpreter.
// A dry run calls each function once or twice, so compiling to machine code
// does not pay: `manager check` on the 3.3 MB Go wasip1 fixture (2 shared
// cores) took 0.54 s to compile and 66 ms to run interpreted, 4.0 s and
// 8 ms compiled; the 19 KB AssemblyScript one 10 ms + 9 ms against 23 ms +
// 1 ms.
const dryRunCompilerDefault = false

// defineDryRun adds the flags of the Proxy-Wasm dry run.
func (o *options) defineDryRun(fs *pflag.FlagSet) {
	fs.DurationVar(&o.dryRunTimeout, "dry-run-timeout", sandbox.DefaultTimeout, "Wall-clock limit of one dry run of a module, instantiation included; over it, ModuleValidated is False with Reason Timeout.")
	fs.StringVar(&o.dryRunMemory, "dry-run-memory-limit", check.FormatPages(sandbox.DefaultMemoryLimitPages), "Memory a module may use in its dry run: MiB, or a quantity such as 128Mi (rounded down to 64 KiB pages); over it, Reason MemoryLimit. Real modules start with up to 17 MiB.")
	fs.IntVar(&o.dryRunLogBytes, "dry-run-max-log-bytes", sandbox.DefaultMaxLogBytes, "Bytes of a module's log lines kept from its dry run (for the ModuleValidated message); the rest are dropped and counted.")
	fs.IntVar(&o.dryRunParallel, "dry-run-concurrency", 1, "Dry runs at once; each may take --dry-run-memory-limit. Compilations, for dry runs and inspections alike, share a budget of 4 MiB of Wasm (one 3.3 MB Go module, whose compiled form is 71 MiB), held from compilation until the module's last queued dry run ends.")
	fs.BoolVar(&o.dryRunCompiler, "dry-run-compiler", dryRunCompilerDefault, "Compile modules to machine code for their dry runs instead of interpreting them.")
}

// validateDryRun checks the --dry-run-* flags and builds the sandbox's
// Config from them.
func (o *options) validateDryRun() error {
	if o.dryRunTimeout <= 0 || o.dryRunLogBytes < 1 || o.dryRunParallel < 1 {
		return fmt.Errorf("--dry-run-timeout, --dry-run-max-log-bytes and --dry-run-concurrency must be positive")
	}
	pages, err := check.ParseMemoryLimit(o.dryRunMemory)
	if err != nil {
		return fmt.Errorf("--dry-run-memory-limit: %w", err)
	}
	o.sandbox = sandbox.Config{
		Timeout: o.dryRunTimeout, MemoryLimitPages: pages, MaxLogBytes: o.dryRunLogBytes,
		Compiler: o.dryRunCompiler, MaxConcurrent: o.dryRunParallel,
	}
	return nil
}

// runCheck runs `manager check` with args (those after "check") until it
// ends or an interrupt, and returns its exit code.
func runCheck(args []string, std check.IO) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return check.Main(ctx, args, std)
}
