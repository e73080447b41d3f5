// Package proc runs the programs the demo (test/demo) and the benchmark
// (test/bench) need as child processes: the operator and the CNCF
// distribution registry. It starts a binary with its output in a log file,
// waits for it to answer over HTTP, stops it (SIGTERM, then SIGKILL of its
// process group), quotes the end of its log and reads its CPU time and
// memory from /proc.
//
// It owns the child process only. It must not know what the child is, its
// flags, or what the caller measures.
package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Errors of WaitHTTP.
var (
	// ErrExited means the process exited before it answered.
	ErrExited = errors.New("process exited")
	// ErrTimeout means the process did not answer in time.
	ErrTimeout = errors.New("process did not answer in time")
)

// probeTimeout bounds one request of WaitHTTP.
const probeTimeout = 2 * time.Second

// FreeAddr returns "127.0.0.1:<port>" for a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// Options say what to run.
type Options struct {
	// Name is what errors call the process (default: the binary's base name).
	Name string
	// Binary is the program's path.
	Binary string
	// Args are its arguments.
	Args []string
	// Env is added to this process's environment.
	Env []string
	// LogFile receives the process's stdout and stderr; it is created, or
	// appended to when it exists.
	LogFile string
}

// Process is a running child process. It is killed with its parent, however
// the parent ends (Pdeathsig), and runs in a process group of its own.
type Process struct {
	Name    string
	Cmd     *exec.Cmd
	Pid     int
	LogFile string

	done chan struct{}
	err  error // exit status, valid after done is closed
}

// Start starts the process. It does not wait for anything.
func Start(o Options) (*Process, error) {
	if o.Name == "" {
		o.Name = filepath.Base(o.Binary)
	}
	logf, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.Binary, o.Args...)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting %s: %w", o.Binary, err)
	}
	p := &Process{Name: o.Name, Cmd: cmd, Pid: cmd.Process.Pid, LogFile: o.LogFile, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Err is the exit status, once Exited is closed.
func (p *Process) Err() error { return p.err }

// WaitHTTP GETs url every interval until it answers 200 OK, and returns nil
// then. It returns an error wrapping ErrExited when the process exits
// first, ErrTimeout when timeout has passed, or ctx's error.
func (p *Process) WaitHTTP(ctx context.Context, url string, interval, timeout time.Duration) error {
	hc := &http.Client{Timeout: probeTimeout}
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w: %s: %v", ErrExited, p.Name, p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s at %s after %s", ErrTimeout, p.Name, url, timeout)
		}
	}
}

// Stop sends SIGTERM, waits up to grace for the process to exit, then
// kills its process group. It returns an error when the process had to be
// killed, or exited with a failure status other than the one the signal
// caused.
func (p *Process) Stop(grace time.Duration) error {
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
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", p.Name, grace)
	}
}

func (p *Process) exitErr() error {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) && !ee.Exited() { // terminated by a signal
		return nil
	}
	return p.err
}

// Tail returns the last n lines of the process's log.
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
