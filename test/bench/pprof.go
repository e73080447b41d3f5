package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/wasmext/wasmext/internal/testenv/proc"
)

// cpuChunk is the length of one CPU profile request during a rollout. The
// endpoint cannot be stopped early, so the rollout is profiled in chunks,
// merged at the end: the profile overshoots the rollout by at most one chunk.
const cpuChunk = 2 * time.Second

// profiler fetches the operator's profiles for -pprof from its
// --pprof-bind-address.
type profiler struct {
	base   string // http://host:port of the operator's pprof server
	dir    string // -pprof
	n      int
	verify bool
	hc     *http.Client
}

// profileURL is the URL of the pprof profile kind ("profile" for CPU,
// "heap", "allocs") at base: a CPU profile for d, a heap profile after a GC.
func profileURL(base, kind string, d time.Duration) string {
	u := base + "/debug/pprof/" + kind
	switch kind {
	case "profile":
		u += "?seconds=" + strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second)))
	case "heap":
		u += "?gc=1"
	}
	return u
}

// profileFile is where the profile named name ("cpu", "heap", "allocs") of
// the run of n extensions goes in dir: <n>-<name>.pprof, or
// <n>-verify-<name>.pprof with verification on.
func profileFile(dir string, n int, verify bool, name string) string {
	mode := ""
	if verify {
		mode = "-verify"
	}
	return filepath.Join(dir, fmt.Sprintf("%d%s-%s.pprof", n, mode, name))
}

// startCPU profiles the operator's CPU in chunks until the returned stop is
// called, then merges the chunks into <n>-cpu.pprof; stop returns once the
// file is written.
func (p *profiler) startCPU(ctx context.Context) (stop func() error) {
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() { errc <- p.recordCPU(ctx, done) }()
	return func() error {
		close(done)
		return <-errc
	}
}

func (p *profiler) recordCPU(ctx context.Context, done <-chan struct{}) error {
	tmp, err := os.MkdirTemp(p.dir, ".cpu-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	var chunks []string
	for i := 0; ; i++ {
		f := filepath.Join(tmp, fmt.Sprintf("%04d.pprof", i))
		if err := p.fetch(ctx, profileURL(p.base, "profile", cpuChunk), f); err != nil {
			return err
		}
		chunks = append(chunks, f)
		select {
		case <-done:
			return mergeProfiles(ctx, profileFile(p.dir, p.n, p.verify, "cpu"), chunks)
		default:
		}
	}
}

// writeHeap writes the operator's heap (after a GC) and allocs profiles.
func (p *profiler) writeHeap(ctx context.Context) error {
	return errors.Join(
		p.fetch(ctx, profileURL(p.base, "heap", 0), profileFile(p.dir, p.n, p.verify, "heap")),
		p.fetch(ctx, profileURL(p.base, "allocs", 0), profileFile(p.dir, p.n, p.verify, "allocs")))
}

// fetch writes the body of a GET of url to the file out.
func (p *profiler) fetch(ctx context.Context, url, out string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return os.WriteFile(out, body, 0o644)
}

// mergeProfiles merges the profiles in into the file out with `go tool
// pprof -proto` (the bench already needs the go command to build the
// operator).
func mergeProfiles(ctx context.Context, out string, in []string) error {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "pprof", "-proto"}, in...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("merging %d CPU profiles: %w: %s", len(in), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return os.WriteFile(out, stdout.Bytes(), 0o644)
}

// pprofArgs sets up x.prof with -pprof: the operator's flag that serves
// pprof on a free loopback port.
func (x *oneRun) pprofArgs() ([]string, error) {
	if x.o.pprof == "" {
		return nil, nil
	}
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	x.prof = &profiler{base: "http://" + addr, dir: x.o.pprof, n: x.n, verify: x.mode.verify, hc: x.hc}
	return []string{"--pprof-bind-address=" + addr}, nil
}

// profileRollout starts the CPU profile of a rollout with -pprof; the
// returned func ends it. A profile that fails is reported, not fatal.
func (x *oneRun) profileRollout(ctx context.Context) (end func()) {
	if x.prof == nil {
		return func() {}
	}
	stop := x.prof.startCPU(ctx)
	return func() {
		if err := stop(); err != nil {
			fmt.Printf("(CPU profile: %v) ", err)
		}
	}
}

// profileHeap writes the heap and allocs profiles with -pprof.
func (x *oneRun) profileHeap(ctx context.Context) {
	if x.prof == nil {
		return
	}
	if err := x.prof.writeHeap(ctx); err != nil {
		fmt.Printf("    heap profiles: %v\n", err)
		return
	}
	fmt.Printf("    profiles in %s\n", profileFile(x.o.pprof, x.n, x.mode.verify, "{cpu,heap,allocs}"))
}
