package controllers

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/wasmext/wasmext/internal/testenv/ci"
)

// distributionProc is the CNCF distribution registry (bin/registry, whose
// path `make test` sets in WASMEXT_REGISTRY_BIN) run as a child process on
// a fixed loopback address with filesystem storage, so a test can stop it
// and start it again on the same address with the same content.
// test/internal/proc/distribution does the same for test/, but Go's
// internal rule keeps it out of reach of this package.
type distributionProc struct {
	bin, dir, addr string
	cmd            *exec.Cmd
	done           chan struct{}
}

// startDistribution starts the registry on a free loopback port, with
// storage and log under a test directory; the test's Cleanup stops it.
func startDistribution(t *testing.T) *distributionProc {
	t.Helper()
	bin := os.Getenv("WASMEXT_REGISTRY_BIN")
	if bin == "" {
		ci.Skipf(t, "WASMEXT_REGISTRY_BIN is not set (make test sets it)")
	}
	addr := freeAddr(t)
	d := &distributionProc{bin: bin, dir: t.TempDir(), addr: addr}
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"+
		"storage:\n  filesystem:\n    rootdirectory: %s\n  maintenance:\n    uploadpurging:\n      enabled: false\n"+
		"http:\n  addr: %s\n  secret: outage-test-secret\n", filepath.Join(d.dir, "storage"), addr)
	if err := os.WriteFile(filepath.Join(d.dir, "config.yml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start(t)
	t.Cleanup(func() { d.stop(t) })
	return d
}

// start runs the registry and waits until /v2/ answers 200.
func (d *distributionProc) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(d.dir, "registry.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(d.bin, "serve", filepath.Join(d.dir, "config.yml"))
	d.cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		_ = logf.Close()
		t.Fatalf("starting %s: %v", d.bin, err)
	}
	d.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		_ = logf.Close()
		close(done)
	}(d.cmd, d.done)
	hc := &http.Client{Timeout: 2 * time.Second}
	up := func(context.Context) (bool, error) {
		select {
		case <-d.done:
			return false, fmt.Errorf("registry exited; see %s", filepath.Join(d.dir, "registry.log"))
		default:
		}
		resp, err := hc.Get("http://" + d.addr + "/v2/")
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}
	if err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, waitFor, true, up); err != nil {
		t.Fatalf("registry at %s did not answer: %v", d.addr, err)
	}
}

// stop sends SIGTERM and waits for the process to exit (SIGKILL to its
// group after 10s). Stopping a stopped registry does nothing.
func (d *distributionProc) stop(t *testing.T) {
	t.Helper()
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

// freeAddr returns "127.0.0.1:<port>" for a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
