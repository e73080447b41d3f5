package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

func (r *result) print(o options) {
	fmt.Printf("\n=== N=%d extensions over %d modules%s ===\n", r.n, r.modules, r.title())
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "  %s\t%s\n", k, fmt.Sprintf(format, args...)) }
	n := float64(r.n)
	row("operator flags", "%s%s", strings.Join(r.opArgs, " "), qpsNote(o))
	row("load average at start", "%s (%d CPUs, shared with the control plane and the bench)", r.loadStart, cpus())
	row("control plane start", "%s", dur(r.cpStart))
	row("API server warm-up", "%s for one WasmExtension create + delete before the operator started (not counted)", dur(r.warmup))
	row("create (bench client)", "%s for %d objects (QPS %d, burst %d, %d workers; latency p50 %s, max %s)", dur(r.created), r.n,
		benchClientQPS, benchClientBurst, min(o.creators, r.n), dur(pct(r.createLatency, 50)), dur(pct(r.createLatency, 100)))
	if r.allReady > 0 {
		row("apply → all Ready", "%s   (first %s, p50 %s, p90 %s; last Ready %s after the last create)", secs(r.allReady),
			secs(r.readyTimes[0]), secs(pct(r.readyTimes, 50)), secs(pct(r.readyTimes, 90)), secs(max(0, r.allReady-r.created)))
		row("", "the figures below cover apply → all Ready + %s until the operator went quiet", dur(r.settle))
	} else {
		row("apply → all Ready", "NOT ALL READY: %d of %d Ready; not Ready by reason: %v", len(r.readyTimes), r.n, r.notReady)
	}
	p := r.phase
	row("reconciles", "%.0f (%.2f /ext) by result: %s; workqueue_retries_total %.0f", sumAll(p.reconciles), sumAll(p.reconciles)/n, kv(p.reconciles), p.retries)
	row("API requests (operator)", "%.0f = %.2f /ext: reads %.0f (%.2f /ext), writes %.0f (%.2f /ext)",
		p.apiTotal(), p.apiTotal()/n, p.apiReads(), p.apiReads()/n, p.apiWrites(), p.apiWrites()/n)
	row("  on the path to Ready", "%.0f writes (%.2f /ext), and %.0f Events (%.2f /ext) queued apart, at --event-qps: %.0f sent, %.0f still queued at the end",
		p.pathWrites(), p.pathWrites()/n, p.allEvents(), p.allEvents()/n, p.eventWrites(), p.queuedEnd)
	row("  by HTTP method", "%s   (client-go counts HTTP methods: GET = get, list and watch)", kv(p.apiByMethod))
	row("  writes, API server side", "%s", kv(p.apiServer))
	rg := p.registry
	row("registry requests", "%d: manifest HEAD %d, manifest GET %d, blob GET %d, blob HEAD %d, other %d",
		rg.Total, rg.ManifestHEAD, rg.ManifestGET, rg.BlobGET, rg.BlobHEAD, rg.Other)
	row("  per distinct digest", "%s", perDigest(r.regPerDigest))
	if r.verify {
		row("  signature-related", "%s", sigSplit(p, n))
		row("", "the module repositories also hold the signatures, so the per-digest line above counts both")
		row("Secret GETs (API server)", "%.0f (%.2f /ext): the key Secret, read uncached once per Secret version (UID, resourceVersion)", p.secretGETs, p.secretGETs/n)
	}
	row("operator CPU", "%.2f s in the phase (%.1f ms /ext), %.2f s since it started", p.cpu.Seconds(), p.cpu.Seconds()*1000/n, r.sinceStart.CPU.Seconds())
	row("operator memory", "peak RSS %s (RSS now %s, of which %s file-backed: mostly the binary's own clean pages)",
		mib(r.sinceStart.PeakRSS), mib(r.sinceStart.RSS), mib(r.sinceStart.RSSFile))
	if r.steadyDuration > 0 {
		s := r.steady
		row(fmt.Sprintf("steady state (%s)", r.steadyDuration), "API requests %.0f (writes %.0f) %s, registry requests %d, reconciles %.0f, CPU %.2f s",
			s.apiTotal(), s.apiWrites(), kv(s.apiByMethod), s.registry.Total, sumAll(s.reconciles), s.cpu.Seconds())
		if d := s.drained(); d > 0 {
			row("", "%.0f of those writes are the rollout's queued Events, counted with the rollout above; %.0f are still queued", d, s.queuedEnd)
		}
		if r.verify {
			row("  signature fetches", "%d (%s), Secret GETs %.0f, over %.0f reconciles (periodic resyncs%s)",
				s.sig.sig(), sigKinds(s.sig), s.secretGETs, sumAll(s.reconciles), intervalNote(r.interval))
		}
	}
	row("operator log", "%s", r.logFile)
	_ = tw.Flush()
}

func (r *result) title() string {
	if r.verify {
		return ", verification on"
	}
	return ""
}

func intervalNote(d time.Duration) string {
	if d > 0 {
		return fmt.Sprintf(", spec.module.interval %s", d)
	}
	return ", none expected: spec.module.interval is the operator's 10m default"
}

// sigKinds lists the signature requests by kind.
func sigKinds(c sigCounts) string {
	return fmt.Sprintf("referrers %d, bundle manifest GET %d / HEAD %d, bundle blob GET %d, .sig/referrers-tag %d",
		c.Referrers, c.ManifestGET, c.ManifestHD, c.BundleGET, c.LegacyTag)
}

func sigSplit(w window, n float64) string {
	mod := w.registry.Total - w.sig.sig()
	note := ""
	if w.sig.All != w.registry.Total {
		note = fmt.Sprintf("; NOTE the proxy saw %d requests, the registry %d", w.sig.All, w.registry.Total)
	}
	return fmt.Sprintf("%d (%.2f /ext): %s; the rest, %d (%.2f /ext), is the module's own (tag, manifest, blobs)%s",
		w.sig.sig(), float64(w.sig.sig())/n, sigKinds(w.sig), mod, float64(mod)/n, note)
}

// printVerification compares the verified run of one N with the unverified one.
func printVerification(off, on *result) {
	fmt.Printf("\n=== N=%d: verification cost (run with spec.verify minus run without) ===\n", on.n)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "  %s\t%s\n", k, fmt.Sprintf(format, args...)) }
	n := float64(on.n)
	p := on.phase
	row("signature requests (registry)", "%s", sigSplit(p, n))
	row("", "told apart by digest at a proxy in front of the registry: referrers API calls, GET/HEAD of the bundle")
	row("", "artifact manifests the bench pushed, GETs of their layers; a re-read of the module manifest for a")
	row("", "signature check cannot be told from the pull's own read, so it shows only in Δ registry below")
	row("Secret GETs", "%.0f (%.2f /ext; the operator reads the key Secret uncached, once per Secret version)", p.secretGETs, p.secretGETs/n)
	if off == nil {
		_ = tw.Flush()
		return
	}
	d := verifyDelta(off, on)
	row("Δ apply → all Ready", "%s", d.time)
	row("Δ operator CPU", "%+.1f ms /ext (%.1f → %.1f)", d.cpu, off.phase.cpu.Seconds()*1000/n, p.cpu.Seconds()*1000/n)
	row("Δ registry requests", "%+.2f /ext (%.2f → %.2f), of which signature %.2f /ext", d.reg,
		float64(off.phase.registry.Total)/n, float64(p.registry.Total)/n, float64(p.sig.sig()-off.phase.sig.sig())/n)
	row("Δ API requests", "%+.2f /ext: reads %+.2f /ext (%.2f → %.2f), writes %+.2f /ext; Secret GETs %+.2f /ext", d.api, d.reads,
		off.phase.apiReads()/n, p.apiReads()/n, (p.apiWrites()-off.phase.apiWrites())/n, (p.secretGETs-off.phase.secretGETs)/n)
	if on.steadyDuration > 0 {
		row("steady state", "%s", d.steady)
	}
	_ = tw.Flush()
}

// delta is the verification cost of one N, for the table and the summary.
type vdelta struct {
	time, steady, perResync string
	cpu, reg, api, reads    float64
}

func verifyDelta(off, on *result) vdelta {
	n := float64(on.n)
	d := vdelta{
		cpu:   (on.phase.cpu - off.phase.cpu).Seconds() * 1000 / n,
		reg:   float64(on.phase.registry.Total-off.phase.registry.Total) / n,
		api:   (on.phase.apiTotal() - off.phase.apiTotal()) / n,
		reads: (on.phase.apiReads() - off.phase.apiReads()) / n,
		time:  "n/a (not all Ready)", steady: "-", perResync: "-",
	}
	if on.allReady > 0 && off.allReady > 0 {
		dt := on.allReady - off.allReady
		d.time = fmt.Sprintf("%+.2f s (%.2f → %.2f s), %+.1f ms /ext", dt.Seconds(), off.allReady.Seconds(), on.allReady.Seconds(), float64(dt.Milliseconds())/n)
	}
	if on.steadyDuration > 0 {
		s := on.steady
		resyncs := sumAll(s.reconciles)
		if resyncs > 0 {
			d.perResync = fmt.Sprintf("%g", float64(s.sig.sig())/resyncs)
			d.steady = fmt.Sprintf("signature fetches per resync: %s   (%d signature fetches, %.0f Secret GETs over %.0f resync reconciles in %s)",
				d.perResync, s.sig.sig(), s.secretGETs, resyncs, on.steadyDuration)
		} else {
			d.perResync = "n/a"
			d.steady = fmt.Sprintf("signature fetches per resync: not measured, no resync in the %s window (%d signature fetches)%s",
				on.steadyDuration, s.sig.sig(), intervalNote(on.interval))
		}
	}
	return d
}
