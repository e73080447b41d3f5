// Package operator builds the manager binary (the repository's main package)
// and runs it as a child process, for the demo (test/demo) and the benchmark
// (test/bench): a real process with its own flags, logs, CPU and memory,
// talking to the control plane through a kubeconfig like it would anywhere.
//
// It owns the operator's command line and readiness only; starting,
// stopping and measuring the process is internal/testenv/proc's. It must not
// know about extensions, registries or what the caller measures.
package operator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/wasmext/wasmext/internal/testenv/proc"
)

// Build runs `go build -o out .` in repoRoot.
func Build(ctx context.Context, repoRoot, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -o %s . (in %s): %w\n%s", out, repoRoot, err, bytes.TrimSpace(b))
	}
	return nil
}

// Options say how to run the operator.
type Options struct {
	// Binary is the manager binary (see Build).
	Binary string
	// Kubeconfig is the kubeconfig file the operator uses. It is passed as
	// --kubeconfig when the binary has that flag, and always as KUBECONFIG.
	Kubeconfig string
	// ProbeAddr is the --health-probe-bind-address; Start waits for /readyz
	// there. Empty picks a free loopback port.
	ProbeAddr string
	// Args are further flags, e.g. --metrics-bind-address=0.
	Args []string
	// LogFile receives the operator's stdout and stderr.
	LogFile string
	// ReadyTimeout bounds the wait for /readyz (default 60s).
	ReadyTimeout time.Duration
	// Env are further environment variables, e.g. GOMEMLIMIT=150MiB (the
	// chart sets GOMEMLIMIT to the container's memory limit).
	Env []string
}

// Process is a running operator.
type Process struct {
	*proc.Process
	ProbeAddr string
	// Args are the arguments the binary was started with.
	Args []string
	// KubeconfigFlag tells whether --kubeconfig was passed (the binary has the
	// flag) or only the KUBECONFIG environment variable.
	KubeconfigFlag bool
}

// Start starts the operator and waits until its /readyz answers 200 (its
// informer caches have synced). On failure the process is stopped and the
// error quotes the end of its log.
func Start(ctx context.Context, o Options) (*Process, error) {
	if o.ProbeAddr == "" {
		var err error
		if o.ProbeAddr, err = proc.FreeAddr(); err != nil {
			return nil, err
		}
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	args, kubeconfigFlag, err := commandLine(ctx, o)
	if err != nil {
		return nil, err
	}
	p, err := proc.Start(proc.Options{Name: "operator", Binary: o.Binary, Args: args,
		Env: append([]string{"KUBECONFIG=" + o.Kubeconfig}, o.Env...), LogFile: o.LogFile})
	if err != nil {
		return nil, err
	}
	op := &Process{Process: p, ProbeAddr: o.ProbeAddr, Args: args, KubeconfigFlag: kubeconfigFlag}
	if err := op.waitReady(ctx, o.ReadyTimeout); err != nil {
		_ = op.Stop(5 * time.Second)
		return nil, fmt.Errorf("%w\n%s", err, op.Tail(30))
	}
	return op, nil
}

// commandLine returns the operator's arguments and whether they include
// --kubeconfig.
func commandLine(ctx context.Context, o Options) ([]string, bool, error) {
	args := []string{"--health-probe-bind-address=" + o.ProbeAddr}
	// The module server (output EnvoyFilter) on a free loopback port, so
	// several operators and other programs can run side by side.
	if HasFlag(ctx, o.Binary, "module-server-bind-address") {
		modAddr, err := proc.FreeAddr()
		if err != nil {
			return nil, false, err
		}
		args = append(args, "--module-server-bind-address="+modAddr, "--module-server-url=http://"+modAddr)
	}
	kubeconfigFlag := HasFlag(ctx, o.Binary, "kubeconfig")
	if kubeconfigFlag {
		args = append(args, "--kubeconfig="+o.Kubeconfig)
	}
	return append(args, o.Args...), kubeconfigFlag, nil
}

func (p *Process) waitReady(ctx context.Context, timeout time.Duration) error {
	url := "http://" + p.ProbeAddr + "/readyz"
	err := p.WaitHTTP(ctx, url, 200*time.Millisecond, timeout)
	switch {
	case errors.Is(err, proc.ErrExited):
		return fmt.Errorf("operator exited before it was ready (%v); log %s", p.Err(), p.LogFile)
	case errors.Is(err, proc.ErrTimeout):
		return fmt.Errorf("operator not ready at %s after %s; log %s", url, timeout, p.LogFile)
	}
	return err
}

// HasFlag tells whether binary's --help lists --name.
func HasFlag(ctx context.Context, binary, name string) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, binary, "--help").CombinedOutput()
	return bytes.Contains(out, []byte("--"+name+" ")) || bytes.Contains(out, []byte("--"+name+"="))
}
