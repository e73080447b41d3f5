package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// system is one column of the comparison.
type system int

const (
	sysWasmext system = iota
	sysFluxDefault
	sysFluxTuned
	sysFloor
	numSystems
)

// figures are what one round of one system measured, in the units of the
// report; NaN is "not measured" (or, for ready, "not all Ready").
type figures struct {
	ready        float64 // s, first create → last Ready
	manifests    float64 // registry manifest requests (HEAD + GET), signatures left out
	blobs        float64 // registry blob GETs, signatures left out
	sigs         float64 // registry requests for signature artifacts
	apiPerObj    float64 // API requests of the system per object
	writesPerObj float64 // of which writes
	eventsPerObj float64 // of which Event writes (apiserver side)
	cpu          float64 // s of CPU in the phase
	rss          float64 // MiB, peak RSS
	steadyAPI    float64 // API requests in the steady window
	steadyReg    float64 // registry requests in the steady window
}

var nan = math.NaN()

// notMeasured is figures with every field NaN.
func notMeasured() figures {
	return figures{nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan}
}

// figuresOf converts one run of the operator or of the peer.
func figuresOf(r *result) figures {
	f := notMeasured()
	if r.allReady > 0 {
		f.ready = r.allReady.Seconds()
	}
	p, n := r.phase, float64(r.n)
	s := p.sig
	f.manifests = float64(max(0, p.registry.ManifestHEAD+p.registry.ManifestGET-s.ManifestGET-s.ManifestHD-s.LegacyTag))
	f.blobs = float64(max(0, p.registry.BlobGET-s.BundleGET))
	f.sigs = float64(s.sig())
	queued := p.queuedWithin() - p.drained()
	f.apiPerObj, f.writesPerObj, f.eventsPerObj = (p.apiTotal()+queued)/n, p.allWrites()/n, p.allEvents()/n
	f.cpu, f.rss = p.cpu.Seconds(), float64(r.sinceStart.PeakRSS)/(1<<20)
	if r.steadyDuration > 0 {
		f.steadyAPI, f.steadyReg = r.steady.apiTotal()+r.steady.queuedWithin()-r.steady.drained(), float64(r.steady.registry.Total)
	}
	return f
}

// floorFigures converts one floor round.
func floorFigures(fr *floorResult) figures {
	f := notMeasured()
	f.ready = fr.elapsed.Seconds()
	f.manifests, f.blobs, f.sigs = float64(fr.registry.manifests), float64(fr.registry.blobs), 0
	f.apiPerObj = float64(fr.writes) / float64(fr.n)
	f.writesPerObj, f.eventsPerObj = f.apiPerObj, 0
	return f
}

// median is the median of the values that are not NaN (NaN if none).
func median(vs []float64) float64 {
	var s []float64
	for _, v := range vs {
		if !math.IsNaN(v) {
			s = append(s, v)
		}
	}
	if len(s) == 0 {
		return nan
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianFigures is the field-by-field median of rounds.
func medianFigures(rounds []figures) figures {
	col := func(get func(figures) float64) float64 {
		vs := make([]float64, len(rounds))
		for i, f := range rounds {
			vs[i] = get(f)
		}
		return median(vs)
	}
	return figures{
		ready:        col(func(f figures) float64 { return f.ready }),
		manifests:    col(func(f figures) float64 { return f.manifests }),
		blobs:        col(func(f figures) float64 { return f.blobs }),
		sigs:         col(func(f figures) float64 { return f.sigs }),
		apiPerObj:    col(func(f figures) float64 { return f.apiPerObj }),
		writesPerObj: col(func(f figures) float64 { return f.writesPerObj }),
		eventsPerObj: col(func(f figures) float64 { return f.eventsPerObj }),
		cpu:          col(func(f figures) float64 { return f.cpu }),
		rss:          col(func(f figures) float64 { return f.rss }),
		steadyAPI:    col(func(f figures) float64 { return f.steadyAPI }),
		steadyReg:    col(func(f figures) float64 { return f.steadyReg }),
	}
}

// ratio formats a/b ("0.42×"), or "–" when either is missing or b is 0.
func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// num formats v with prec decimals, or "–" when not measured.
func num(v float64, prec int) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// caseResult is every round of one N over M modules.
type caseResult struct {
	n, modules int
	rounds     [numSystems][]figures
}

// readyCell is the median time to all Ready with how many rounds did not
// get there.
func (c *caseResult) readyCell(s system) string {
	rs := c.rounds[s]
	failed := 0
	for _, f := range rs {
		if math.IsNaN(f.ready) {
			failed++
		}
	}
	cell := num(median(readies(rs)), 2)
	if failed > 0 {
		cell += fmt.Sprintf(" (%d of %d rounds not all Ready)", failed, len(rs))
	}
	return cell
}

func readies(rs []figures) []float64 {
	out := make([]float64, len(rs))
	for i, f := range rs {
		out[i] = f.ready
	}
	return out
}

// row is one line of a figure table: a label, a value per system, and the
// three ratios of wasmext to the others.
func row(label string, prec int, v [numSystems]float64) string {
	cells := []string{label}
	for _, x := range v {
		cells = append(cells, num(x, prec))
	}
	w := v[sysWasmext]
	cells = append(cells, ratio(w, v[sysFluxDefault]), ratio(w, v[sysFluxTuned]), ratio(w, v[sysFloor]))
	return "| " + strings.Join(cells, " | ") + " |\n"
}

// tableHeader is the header of the per-N table.
func tableHeader(first string, tuned int) string {
	return fmt.Sprintf("| %s | wasmext | Flux `--concurrent=%d` | Flux `--concurrent=%d` | floor | wasmext/Flux %d | wasmext/Flux %d | wasmext/floor |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
		first, fluxDefaultConc, tuned, fluxDefaultConc, tuned)
}

// writeCase writes the table of one N.
func writeCase(w io.Writer, c *caseResult, tuned int, steady string) {
	var med [numSystems]figures
	for s := range numSystems {
		med[s] = medianFigures(c.rounds[s])
	}
	pick := func(get func(figures) float64) (v [numSystems]float64) {
		for s := range numSystems {
			v[s] = get(med[s])
		}
		return v
	}
	fmt.Fprintf(w, "\n### N = %d over %d modules\n\n", c.n, c.modules)
	fmt.Fprint(w, tableHeader("figure (median of rounds)", tuned))
	fmt.Fprint(w, row("create → all Ready (s)", 2, pick(func(f figures) float64 { return f.ready })))
	fmt.Fprintf(w, "| &nbsp;&nbsp;each round (s) | %s | %s | %s | %s | | | |\n",
		roundsCell(c.rounds[sysWasmext]), roundsCell(c.rounds[sysFluxDefault]), roundsCell(c.rounds[sysFluxTuned]), roundsCell(c.rounds[sysFloor]))
	fmt.Fprint(w, row("registry: manifest requests", 0, pick(func(f figures) float64 { return f.manifests })))
	fmt.Fprint(w, row("registry: blob GETs", 0, pick(func(f figures) float64 { return f.blobs })))
	fmt.Fprint(w, row("registry: signature requests", 0, pick(func(f figures) float64 { return f.sigs })))
	fmt.Fprint(w, row("API requests per object", 2, pick(func(f figures) float64 { return f.apiPerObj })))
	fmt.Fprint(w, row("API writes per object", 2, pick(func(f figures) float64 { return f.writesPerObj })))
	fmt.Fprint(w, row("&nbsp;&nbsp;of which Events (sent or queued)", 2, pick(func(f figures) float64 { return f.eventsPerObj })))
	fmt.Fprint(w, row("CPU (s)", 2, pick(func(f figures) float64 { return f.cpu })))
	fmt.Fprint(w, row("peak RSS (MiB)", 1, pick(func(f figures) float64 { return f.rss })))
	fmt.Fprint(w, row("steady "+steady+": API requests", 0, pick(func(f figures) float64 { return f.steadyAPI })))
	fmt.Fprint(w, row("steady "+steady+": registry requests", 0, pick(func(f figures) float64 { return f.steadyReg })))
	fmt.Fprintf(w, "\nIstio's native path (model): %s\n", istioModel(c.n, c.modules, med[sysWasmext].blobs))
}

// roundsCell lists the ready time of every round ("–" for not all Ready).
func roundsCell(rs []figures) string {
	parts := make([]string, len(rs))
	for i, f := range rs {
		parts[i] = num(f.ready, 2)
	}
	return strings.Join(parts, ", ")
}

// istioModel is the registry traffic of Istio's native WasmPlugin path for
// n extensions over m modules, against wasmext's blob GETs.
func istioModel(n, m int, wasmextBlobs float64) string {
	return fmt.Sprintf("registry pulls = pods. With one selected pod per extension: %d pulls (%d manifest GETs + %d blob GETs) of %d distinct modules, "+
		"against wasmext's %s blob GETs with delivery Cache; with P pods per extension, %d × P.", n, n, n, min(n, m), num(wasmextBlobs, 0), n)
}

// writeSummary writes the one-line-per-N table of ready times.
func writeSummary(w io.Writer, cases []*caseResult, tuned int) {
	fmt.Fprint(w, tableHeader("N / modules", tuned))
	for _, c := range cases {
		var v [numSystems]float64
		cells := []string{fmt.Sprintf("%d / %d", c.n, c.modules)}
		for s := range numSystems {
			v[s] = median(readies(c.rounds[s]))
			cells = append(cells, c.readyCell(s))
		}
		w0 := v[sysWasmext]
		cells = append(cells, ratio(w0, v[sysFluxDefault]), ratio(w0, v[sysFluxTuned]), ratio(w0, v[sysFloor]))
		fmt.Fprint(w, "| "+strings.Join(cells, " | ")+" |\n")
	}
}
