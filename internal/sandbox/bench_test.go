package sandbox_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmext/wasmext/internal/sandbox"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// benchModules are real modules of three sizes and toolchains.
var benchModules = []struct {
	name       string
	wasm       []byte
	pluginName string
}{
	{"WAT-1KB", wasmtest.ProxyWasm, ""},
	{"AssemblyScript-19KB", wasmtest.AssemblyScript, wasmtest.AssemblyScriptRootID},
	{"GoWASIP1-3MB", wasmtest.GoWASIP1, ""},
}

// BenchmarkDryRun measures one dry run per module, with the interpreter
// and the compiler: "first" is a module the sandbox has never seen
// (compilation included), "compiled" a new configuration of a module
// already compiled (kept by CompiledCacheSize 1), "remembered" a repeated input
// (the result cache). It reports the median per run and per MB of Wasm,
// and peak RSS (VmHWM, reset before each sub-benchmark).
func BenchmarkDryRun(b *testing.B) {
	for _, mode := range []struct {
		name     string
		compiler bool
	}{{"interpreter", false}, {"compiler", true}} {
		for _, m := range benchModules {
			for _, phase := range []string{"first", "compiled", "remembered"} {
				b.Run(mode.name+"/"+m.name+"/"+phase, func(b *testing.B) {
					resetPeakRSS(b)
					s := sandbox.New(sandbox.Config{Compiler: mode.compiler, Timeout: time.Minute, CompiledCacheSize: 1})
					defer func() { _ = s.Close(context.Background()) }()
					// The operator passes the sha256 it already has.
					in := sandbox.Input{Wasm: m.wasm, SHA256: fmt.Sprintf("%x", sha256.Sum256(m.wasm)), PluginName: m.pluginName}
					if phase != "first" {
						mustRun(b, s, in) // compile (and remember) outside the timing
					}
					times := make([]time.Duration, 0, b.N)
					b.ResetTimer()
					for i := range b.N {
						if phase == "first" {
							b.StopTimer()
							_ = s.Close(context.Background())
							s = sandbox.New(sandbox.Config{Compiler: mode.compiler, Timeout: time.Minute, CompiledCacheSize: 1})
							b.StartTimer()
						}
						if phase == "compiled" {
							in.Env = map[string]string{"RUN": strconv.Itoa(i)} // a new input, same module
						}
						start := time.Now()
						mustRun(b, s, in)
						times = append(times, time.Since(start))
					}
					b.StopTimer()
					report(b, times, len(m.wasm))
				})
			}
		}
	}
}

func mustRun(b *testing.B, s *sandbox.Sandbox, in sandbox.Input) {
	b.Helper()
	if rep, err := s.Run(context.Background(), in); err != nil {
		b.Fatalf("dry run: %v (logs %v)", err, rep.Logs)
	}
}

func report(b *testing.B, times []time.Duration, size int) {
	slices.Sort(times)
	med := times[len(times)/2]
	b.ReportMetric(float64(med.Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(med.Microseconds())/1000/(float64(size)/(1<<20)), "median-ms/MB")
	if kb := peakRSSKiB(b); kb > 0 {
		b.ReportMetric(float64(kb)/1024, "peak-RSS-MiB")
	}
}

// resetPeakRSS resets the process's high-water mark of resident memory
// to its current RSS (Linux clear_refs 5), so each sub-benchmark reports
// its own peak.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS not reset: %v", err)
	}
}

// peakRSSKiB reads VmHWM from /proc/self/status; 0 where there is none.
func peakRSSKiB(b *testing.B) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Logf("VmHWM %q: %v", rest, err)
			}
			return kb
		}
	}
	return 0
}
