package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/test/internal/proc"
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
// dir, plain HTTP on a free loopback port and no auth, and waits for /v2/.
func (d *demo) startDistribution(ctx context.Context, bin string) (*registry, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	confPath, err := writeRegistryConfig(filepath.Join(d.work, "registry"), addr)
	if err != nil {
		return nil, err
	}
	r := &registry{host: addr, log: filepath.Join(d.work, "registry.log")}
	r.proc, err = proc.Start(proc.Options{
		Binary: bin, Args: []string{"serve", confPath}, LogFile: r.log,
		// No trace exporter: nothing to send traces to, and no noise about it.
		Env: []string{"OTEL_TRACES_EXPORTER=none"},
	})
	if err != nil {
		return nil, err
	}
	r.kind = "CNCF distribution registry " + registryVersion(ctx, bin) + " (" + rel(d.root, bin) + ", filesystem storage, plain HTTP)"
	err = r.proc.WaitHTTP(ctx, "http://"+addr+"/v2/", 100*time.Millisecond, 30*time.Second)
	switch {
	case err == nil:
		return r, nil
	case errors.Is(err, proc.ErrExited):
		return nil, fmt.Errorf("%s exited at start; see %s\n%s", bin, r.log, proc.Tail(r.log, 10))
	case errors.Is(err, proc.ErrTimeout):
		err = fmt.Errorf("%s did not answer /v2/ at %s within 30s; see %s", bin, addr, r.log)
	}
	r.stop()
	return nil, err
}

// writeRegistryConfig writes the registry's config.yml into dir, with its
// storage in dir/storage, and returns its path.
func writeRegistryConfig(dir, addr string) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o755); err != nil {
		return "", err
	}
	conf := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: %s
`, filepath.Join(dir, "storage"), addr, rand.Text())
	confPath := filepath.Join(dir, "config.yml")
	return confPath, os.WriteFile(confPath, []byte(conf), 0o644)
}

func registryVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out)) // "registry github.com/distribution/distribution/v3 v3.1.2"
	for _, s := range f {
		if strings.HasPrefix(s, "v") && strings.Count(s, ".") >= 2 {
			return s
		}
	}
	return ""
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
