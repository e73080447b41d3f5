// Package operator builds the manager binary (the repository's main package)
// and runs it as a child process, for the demo (test/demo) and the benchmark
// (test/bench): a real process with its own flags, logs, CPU and memory,
// talking to the control plane through a kubeconfig like it would anywhere.
//
// It owns the child process only. It must not know about extensions,
// registries or what the caller measures.
package operator

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
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

// FreeAddr returns "127.0.0.1:<port>" for a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
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
}

// Process is a running operator.
type Process struct {
	Cmd       *exec.Cmd
	Pid       int
	ProbeAddr string
	LogFile   string
	// Args are the arguments the binary was started with.
	Args []string
	// KubeconfigFlag tells whether --kubeconfig was passed (the binary has the
	// flag) or only the KUBECONFIG environment variable.
	KubeconfigFlag bool

	log  *os.File
	done chan struct{}
	err  error // exit status, valid after done is closed
}

// Start starts the operator and waits until its /readyz answers 200 (its
// informer caches have synced). On failure the process is stopped and the
// error quotes the end of its log.
func Start(ctx context.Context, o Options) (*Process, error) {
	if o.ProbeAddr == "" {
		var err error
		if o.ProbeAddr, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	args := []string{"--health-probe-bind-address=" + o.ProbeAddr}
	// The module server (output EnvoyFilter) on a free loopback port, so
	// several operators and other programs can run side by side.
	if HasFlag(ctx, o.Binary, "module-server-bind-address") {
		modAddr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		args = append(args, "--module-server-bind-address="+modAddr, "--module-server-url=http://"+modAddr)
	}
	kubeconfigFlag := HasFlag(ctx, o.Binary, "kubeconfig")
	if kubeconfigFlag {
		args = append(args, "--kubeconfig="+o.Kubeconfig)
	}
	args = append(args, o.Args...)
	logf, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.Binary, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+o.Kubeconfig)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Killed with us, whatever way we go.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting %s: %w", o.Binary, err)
	}
	p := &Process{Cmd: cmd, Pid: cmd.Process.Pid, ProbeAddr: o.ProbeAddr, LogFile: o.LogFile,
		Args: args, KubeconfigFlag: kubeconfigFlag, log: logf, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(ctx, o.ReadyTimeout); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("%w\n%s", err, p.Tail(30))
	}
	return p, nil
}

func (p *Process) waitReady(ctx context.Context, timeout time.Duration) error {
	url := "http://" + p.ProbeAddr + "/readyz"
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("operator exited before it was ready (%v); log %s", p.err, p.LogFile)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("operator not ready at %s after %s; log %s", url, timeout, p.LogFile)
		}
	}
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Stop sends SIGTERM, waits up to grace for a clean exit, then kills it.
// It returns an error when the operator exited with a failure status
// other than the one caused by the signal.
func (p *Process) Stop(grace time.Duration) error {
	defer func() { _ = p.log.Close() }()
	select {
	case <-p.done:
		return p.exitErr()
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitErr()
	case <-time.After(grace):
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("operator did not stop within %s of SIGTERM; killed", grace)
	}
}

func (p *Process) exitErr() error {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) && !ee.Exited() { // terminated by our signal
		return nil
	}
	return p.err
}

// Tail returns the last n lines of the operator's log.
func (p *Process) Tail(n int) string { return Tail(p.LogFile, n) }

// Tail returns the last n lines of a file, indented, with a header line.
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer func() { _ = f.Close() }()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 4<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return fmt.Sprintf("--- %s is empty ---", filepath.Base(path))
	}
	return fmt.Sprintf("--- last %d lines of %s ---\n    %s", len(lines), path, strings.Join(lines, "\n    "))
}

// HasFlag tells whether binary's --help lists --name.
func HasFlag(ctx context.Context, binary, name string) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, binary, "--help").CombinedOutput()
	return bytes.Contains(out, []byte("--"+name+" ")) || bytes.Contains(out, []byte("--"+name+"="))
}

// Usage is CPU time and memory of a process, read from /proc.
type Usage struct {
	// CPU is user plus system time since the process started.
	CPU time.Duration
	// PeakRSS is the resident set's high-water mark (VmHWM), in bytes.
	PeakRSS int64
	// RSS is the resident set size now (VmRSS), in bytes.
	RSS int64
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports (sysconf(_SC_CLK_TCK) would need cgo).
const clockTicks = 100

// ReadUsage reads /proc/<pid>/stat (utime + stime) and /proc/<pid>/status
// (VmHWM, VmRSS).
func ReadUsage(pid int) (Usage, error) {
	var u Usage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// The command name (field 2) may hold spaces; fields after it are
	// counted from the closing parenthesis: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return u, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return u, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return u, err
	}
	u.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmHWM":
			dst = &u.PeakRSS
		case "VmRSS":
			dst = &u.RSS
		default:
			continue
		}
		fields := strings.Fields(v) // "12345 kB"
		if len(fields) > 0 {
			if kb, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
				*dst = kb << 10
			}
		}
	}
	return u, nil
}
