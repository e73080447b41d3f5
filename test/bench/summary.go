package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
)

// summary prints one table of every run, the verification cost and the
// comparison with Flux.
func summary(results []*result) {
	if len(results) == 0 {
		return
	}
	fmt.Printf("\n=== summary ===\n")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "N\tmodules\tverify\tall Ready (s)\tAPI req/ext\twrites/ext\tEvents/ext\tmanifest HEAD\tmanifest GET\tblob GET\tsig req\tCPU (s)\tpeak RSS\tsteady API req\tsteady registry\t")
	for _, r := range results {
		ready := "not all"
		if r.allReady > 0 {
			ready = fmt.Sprintf("%.2f", r.allReady.Seconds())
		}
		steadyAPI, steadyReg := "-", "-"
		if r.steadyDuration > 0 {
			steadyAPI = fmt.Sprintf("%.0f", r.steady.apiTotal())
			steadyReg = fmt.Sprint(r.steady.registry.Total)
		}
		n := float64(r.n)
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%.2f\t%.2f\t%.2f\t%d\t%d\t%d\t%d\t%.2f\t%s\t%s\t%s\t\n", r.n, r.modules, onOff(r.verify), ready,
			r.phase.apiTotal()/n, r.phase.pathWrites()/n, r.phase.eventWrites()/n, r.phase.registry.ManifestHEAD, r.phase.registry.ManifestGET,
			r.phase.registry.BlobGET, r.phase.sig.sig(), r.phase.cpu.Seconds(), mib(r.sinceStart.PeakRSS), steadyAPI, steadyReg)
	}
	_ = tw.Flush()
	printProxyPulls(results)
	printVerificationSummary(results)
	printPeers(results)
}

// printVerificationSummary prints the verification cost of every N that
// ran with and without verification.
func printVerificationSummary(results []*result) {
	var offs []*result
	var pairs [][2]*result
	for _, r := range results {
		if !r.verify {
			offs = append(offs, r)
		} else if len(offs) > 0 && offs[len(offs)-1].n == r.n {
			pairs = append(pairs, [2]*result{offs[len(offs)-1], r})
		}
	}
	if len(pairs) == 0 {
		return
	}
	fmt.Printf("\nverification cost per extension (spec.verify on minus off; key Secret, one bundle referrer per module):\n")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "N\tΔ all Ready (s)\tΔ CPU ms/ext\tΔ registry req/ext\tsig req/ext\tΔ API reads/ext\tSecret GET/ext\tsteady sig fetches\tsig fetches/resync\t")
	for _, p := range pairs {
		off, on := p[0], p[1]
		d := verifyDelta(off, on)
		n := float64(on.n)
		dt, steadySig := "n/a", "-"
		if on.allReady > 0 && off.allReady > 0 {
			dt = fmt.Sprintf("%+.2f", (on.allReady - off.allReady).Seconds())
		}
		if on.steadyDuration > 0 {
			steadySig = fmt.Sprint(on.steady.sig.sig())
		}
		fmt.Fprintf(tw, "%d\t%s\t%+.1f\t%+.2f\t%.2f\t%+.2f\t%.2f\t%s\t%s\t\n", on.n, dt, d.cpu, d.reg,
			float64(on.phase.sig.sig())/n, d.reads, on.phase.secretGETs/n, steadySig, d.perResync)
	}
	_ = tw.Flush()
	for _, p := range pairs {
		if p[1].steadyDuration > 0 {
			fmt.Printf("  N=%d %s\n", p[1].n, verifyDelta(p[0], p[1]).steady)
		}
	}
}

// printPeers compares the unverified runs with Flux source-controller.
func printPeers(results []*result) {
	fmt.Printf("\nvs Flux source-controller (product team's figures for this kind of machine; runs without verification):\n")
	for _, r := range results {
		if r.verify {
			continue
		}
		switch {
		case r.n == 1:
			fmt.Printf("  1 object Ready:          Flux %.1f s, wasmext %s\n", peerOneReady, readyOrNot(r))
		case r.n == peerManyN && r.modules == 20:
			fmt.Printf("  %d objects / 20 modules: Flux %.0f s, wasmext %s\n", r.n, peerManyReady, readyOrNot(r))
			fmt.Printf("  blob GETs for %d objects: Flux %d, wasmext %d\n", r.n, peerBlobGETs, r.phase.registry.BlobGET)
		default:
			fmt.Printf("  %d objects / %d modules: wasmext %s (Flux figures are for 1 and 500/20: not comparable; blob GETs %d vs Flux ~1 per object)\n",
				r.n, r.modules, readyOrNot(r), r.phase.registry.BlobGET)
		}
		fmt.Printf("  API requests per object (N=%d): Flux %.0f, wasmext %.2f\n", r.n, peerAPIPerObject, r.phase.apiTotal()/float64(r.n))
	}
}

func onOff(v bool) string {
	if v {
		return "on"
	}
	return "off"
}

func readyOrNot(r *result) string {
	if r.allReady == 0 {
		return "NOT ALL READY"
	}
	return fmt.Sprintf("%.2f s", r.allReady.Seconds())
}

func qpsNote(o options) string {
	if o.qps == 0 && o.burst == 0 {
		return "   (kube-api-qps/burst: operator defaults)"
	}
	return ""
}

func perDigest(cs []ocitest.Counts) string {
	if len(cs) == 0 {
		return "-"
	}
	field := func(name string, f func(ocitest.Counts) int64) string {
		lo, hi := f(cs[0]), f(cs[0])
		for _, c := range cs[1:] {
			lo, hi = min(lo, f(c)), max(hi, f(c))
		}
		if lo == hi {
			return fmt.Sprintf("%s %d", name, lo)
		}
		return fmt.Sprintf("%s %d..%d", name, lo, hi)
	}
	return fmt.Sprintf("%s, %s, %s   (min..max over %d digests)",
		field("manifest HEAD", func(c ocitest.Counts) int64 { return c.ManifestHEAD }),
		field("manifest GET", func(c ocitest.Counts) int64 { return c.ManifestGET }),
		field("blob GET", func(c ocitest.Counts) int64 { return c.BlobGET }), len(cs))
}

// printProxyPulls says how many registry pulls the proxies themselves would
// make: none for extensions delivered from the operator's cache; one per
// selected pod per module for delivery Registry, as for Istio's native
// WasmPlugin (a model: the bench runs no pods).
func printProxyPulls(results []*result) {
	fmt.Printf("\nregistry pulls made by the proxies (model; the operator's own pulls are the blob GETs above):\n")
	for _, r := range results {
		cache, registry := r.deliveries[v1alpha1.DeliveryCache], r.deliveries[v1alpha1.DeliveryRegistry]
		fmt.Printf("  N=%-5d verify %-3s  delivery Cache %d → 0 pulls; delivery Registry %d → %d × pods; Istio native WasmPlugin: %d × pods\n",
			r.n, onOff(r.verify), cache, registry, registry, r.n)
	}
}
