package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/testenv/proc"
	"github.com/wasmext/wasmext/internal/testenv/proc/distribution"
)

// registry is the OCI registry the demo pushes to and the operator pulls
// from: the CNCF distribution registry as a child process, or the
// in-process test registry.
type registry struct {
	kind string // what runs, for the log
	host string
	log  string
	proc *proc.Process
	mem  *ocitest.Registry
}

func (d *demo) startRegistry(ctx context.Context) (*registry, error) {
	if d.o.registry == "inprocess" {
		return startInProcess("in-process test registry (-registry=inprocess)")
	}
	bin, err := d.registryBinary(ctx)
	if err == nil {
		var r *registry
		if r, err = d.startDistribution(ctx, bin); err == nil {
			return r, nil
		}
	}
	if d.o.registry == "distribution" || ctx.Err() != nil {
		return nil, err
	}
	fmt.Printf("       %-14s the CNCF distribution registry is not available (%s);\n", "", firstLine(err))
	fmt.Printf("       %-14s falling back to the in-process test registry\n", "")
	return startInProcess("in-process test registry (fallback: the distribution registry could not be started)")
}

func startInProcess(kind string) (*registry, error) {
	mem, err := ocitest.StartRegistry()
	if err != nil {
		return nil, err
	}
	return &registry{kind: kind, host: mem.Host, mem: mem}, nil
}

// registryBinary returns the distribution registry binary, building it with
// `make registry` when it is missing.
func (d *demo) registryBinary(ctx context.Context) (string, error) {
	bin := d.o.registryBin
	if bin == "" {
		bin = filepath.Join(d.root, "bin", "registry")
	}
	if isExecutable(bin) {
		return bin, nil
	}
	if d.o.registryBin != "" && d.o.registryBin != filepath.Join(d.root, "bin", "registry") {
		return "", fmt.Errorf("%s is not an executable file", bin)
	}
	fmt.Printf("       %-14s %s is missing; building it from its Go module (make registry; a few minutes the first time)\n", "", rel(d.root, bin))
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "registry")
	cmd.Dir = d.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make registry: %w: %s", err, lastLines(string(out), 5))
	}
	if !isExecutable(bin) {
		return "", fmt.Errorf("make registry did not produce %s", bin)
	}
	return bin, nil
}

// startDistribution runs `registry serve` with filesystem storage in the work
// dir, plain HTTP on a free loopback port and no auth, and waits for /v2/
// (internal/testenv/proc/distribution).
func (d *demo) startDistribution(ctx context.Context, bin string) (*registry, error) {
	dir := filepath.Join(d.work, "registry")
	dr, err := distribution.Start(ctx, bin, dir, 30*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	return &registry{host: dr.Host, log: filepath.Join(dir, "registry.log"), proc: dr.Process,
		kind: "CNCF distribution registry " + dr.Version + " (" + rel(d.root, bin) + ", filesystem storage, plain HTTP)"}, nil
}

func (r *registry) stop() {
	switch {
	case r == nil:
	case r.mem != nil:
		r.mem.Close()
	case r.proc != nil:
		_ = r.proc.Stop(5 * time.Second) // the demo has its figures; how the registry ends does not matter
	}
}
