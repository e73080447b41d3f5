package main

import (
	"fmt"
	"strings"
	"time"
)

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// print writes the figures of one run.
func (r *result) print(o options) {
	fmt.Printf("\noperator flags: %s\n", strings.Join(r.args, " "))
	fmt.Printf("%-34s %d of %d (%d with a passed dry run in status)\n", "Ready:", r.ready, o.modules, r.dryRun)
	if len(r.notReady) > 0 {
		fmt.Printf("%-34s %v\n", "not Ready (Ready reason -> count):", r.notReady)
	}
	ready := "not all Ready"
	if r.allReady > 0 {
		ready = r.allReady.Round(time.Millisecond).String()
	}
	fmt.Printf("%-34s %s (creating took %s)\n", "apply -> all Ready:", ready, r.created.Round(time.Millisecond))
	fmt.Printf("%-34s %d manifest GETs, %d blob GETs, %d in all\n", "registry requests:",
		r.registry.ManifestGET, r.registry.BlobGET, r.registry.Total)
	fmt.Printf("%-34s %.1f s (%.1f s before the rollout)\n", "operator CPU:", r.end.CPU.Seconds(), r.idle.CPU.Seconds())
	fmt.Printf("%-34s %.0f MiB (%.0f MiB before the rollout; RSS now %.0f MiB), for %.0f MB of Wasm\n",
		"operator peak RSS (VmHWM):", mib(r.end.PeakRSS), mib(r.idle.PeakRSS), mib(r.end.RSS), r.wasmMB)
	verdict := "stays under"
	if mib(r.end.PeakRSS) >= goalMiB {
		verdict = "does NOT stay under"
	}
	fmt.Printf("peak RSS %s the %d MiB goal (%d modules of ~%.1f MB, dry run on)\n", verdict, goalMiB, o.modules, r.wasmMB/float64(o.modules))
	fmt.Printf("operator log: %s\n", r.logFile)
}
