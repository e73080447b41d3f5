package controllers

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/wasmext/wasmext/internal/testenv/ci"
	"github.com/wasmext/wasmext/internal/testenv/proc/distribution"
)

// distributionProc is the CNCF distribution registry (bin/registry, whose
// path `make test` sets in WASMEXT_REGISTRY_BIN) run as a child process
// (internal/testenv/proc/distribution), which a test can stop and start
// again on the same address with the same storage.
type distributionProc struct {
	bin, dir, addr string
	reg            *distribution.Registry
}

// startDistribution starts the registry on a free loopback port, with
// storage and log under a test directory; the test's Cleanup stops it.
func startDistribution(t *testing.T) *distributionProc {
	t.Helper()
	bin := os.Getenv(distribution.EnvBinary)
	if bin == "" {
		ci.Skipf(t, "%s is not set (make test sets it)", distribution.EnvBinary)
	}
	dir := t.TempDir()
	reg, err := distribution.Start(context.Background(), bin, dir, waitFor)
	if err != nil {
		t.Fatal(err)
	}
	d := &distributionProc{bin: bin, dir: dir, addr: reg.Host, reg: reg}
	t.Cleanup(func() { d.stop(t) })
	return d
}

// start runs the stopped registry again at its address and storage.
func (d *distributionProc) start(t *testing.T) {
	t.Helper()
	reg, err := distribution.StartAt(context.Background(), d.bin, d.dir, d.addr, waitFor)
	if err != nil {
		t.Fatal(err)
	}
	d.reg = reg
}

// stop stops the registry (SIGTERM, then SIGKILL of its group); stopping
// a stopped registry does nothing.
func (d *distributionProc) stop(t *testing.T) {
	t.Helper()
	if d.reg == nil {
		return
	}
	if err := d.reg.Stop(10 * time.Second); err != nil {
		t.Logf("stopping the registry: %v", err)
	}
	d.reg = nil
}
