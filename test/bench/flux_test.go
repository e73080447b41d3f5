package main

import (
	"bytes"
	"flag"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestOCIRepository(t *testing.T) {
	u := ociRepository(7, "bench-1", repoSpec{host: "127.0.0.1:5000", repo: "bench/mod-07", tag: "1.0.0", interval: 10 * time.Minute})
	if got := u.GetAPIVersion() + " " + u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName(); got != "source.toolkit.fluxcd.io/v1 OCIRepository bench-1/ext-0007" {
		t.Errorf("object = %s", got)
	}
	want := map[string]any{
		"url":           "oci://127.0.0.1:5000/bench/mod-07",
		"ref":           map[string]any{"tag": "1.0.0"},
		"interval":      "10m0s",
		"insecure":      true,
		"layerSelector": map[string]any{"mediaType": "application/wasm", "operation": "copy"},
	}
	if got := u.Object["spec"]; !reflect.DeepEqual(got, want) {
		t.Errorf("spec = %v, want %v", got, want)
	}
	v := ociRepository(0, "ns", repoSpec{host: "h", repo: "r", tag: "t", interval: time.Minute, verifySecret: "key"})
	provider, _, _ := unstructured.NestedString(v.Object, "spec", "verify", "provider")
	secret, _, _ := unstructured.NestedString(v.Object, "spec", "verify", "secretRef", "name")
	if provider != "cosign" || secret != "key" {
		t.Errorf("spec.verify = %v, want provider cosign, secretRef key", v.Object["spec"].(map[string]any)["verify"])
	}
}

func TestFluxArgs(t *testing.T) {
	args := strings.Join(fluxArgs(8, "/tmp/s", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"), " ")
	for _, want := range []string{"--concurrent=8", "--storage-path=/tmp/s", "--storage-adv-addr=127.0.0.1:1", "--metrics-addr=127.0.0.1:2",
		"--health-addr=127.0.0.1:3", "--enable-leader-election=false", "--watch-all-namespaces=true"} {
		if !strings.Contains(args, want) {
			t.Errorf("fluxArgs = %s, missing %s", args, want)
		}
	}
}

func TestReadyOf(t *testing.T) {
	obj := func(gen int64, conds ...map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{}}
		u.SetGeneration(gen)
		list := make([]any, len(conds))
		for i, c := range conds {
			list[i] = c
		}
		_ = unstructured.SetNestedSlice(u.Object, list, "status", "conditions")
		return u
	}
	cond := func(typ, status, reason string, gen int64) map[string]any {
		return map[string]any{"type": typ, "status": status, "reason": reason, "observedGeneration": gen}
	}
	for _, tc := range []struct {
		name string
		u    *unstructured.Unstructured
		want objReady
	}{
		{"no status", obj(1), objReady{reason: "NoReadyCondition"}},
		{"ready", obj(2, cond("Ready", "True", "Succeeded", 2)), objReady{ready: true}},
		{"ready for an older generation", obj(3, cond("Ready", "True", "Succeeded", 2)), objReady{reason: "Succeeded"}},
		{"progressing", obj(1, cond("Ready", "Unknown", "Progressing", 1)), objReady{reason: "Progressing"}},
		{"stalled", obj(1, cond("Ready", "False", "OCIArtifactPullFailed", 1), cond("Stalled", "True", "x", 1)),
			objReady{stalled: true, reason: "OCIArtifactPullFailed"}},
	} {
		if got := readyOf(tc.u); got != tc.want {
			t.Errorf("%s: readyOf = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseNs(t *testing.T) {
	ns, mods, err := parseNs("1, 100,500/20", 50, true)
	if err != nil || !reflect.DeepEqual(ns, []int{1, 100, 500}) || !reflect.DeepEqual(mods, []int{50, 50, 20}) {
		t.Errorf("parseNs = %v, %v, %v; want [1 100 500], [50 50 20]", ns, mods, err)
	}
	for _, tc := range []struct {
		list    string
		peer    bool
		wantErr string
	}{
		{"500/20", false, `-n: "500/20": N/M needs -peer`},
		{"500/0", true, `-n: "500/0": M is not a positive number`},
		{"x/2", true, `-n: "x/2" is not a positive number`},
	} {
		if _, _, err := parseNs(tc.list, 50, tc.peer); err == nil || err.Error() != tc.wantErr {
			t.Errorf("parseNs(%q) error = %v, want %q", tc.list, err, tc.wantErr)
		}
	}
}

func TestParseFlagsPeer(t *testing.T) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o, err := parseFlags(fs, []string{"-peer", "flux", "-n", "1,500/20", "-rounds", "5", "-docs", "docs/b.md"})
	if err != nil || o.peer.name != "flux" || o.peer.rounds != 5 || o.peer.docs != "docs/b.md" || !reflect.DeepEqual(o.nModules, []int{20, 20}) {
		t.Errorf("parseFlags = %+v, %v", o.peer, err)
	}
	for args, want := range map[string]string{
		"-peer istio": `-peer: "istio" is not a known peer (flux)`,
		"-rounds 0":   "-rounds must be positive",
	} {
		fs := flag.NewFlagSet("bench", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if _, err := parseFlags(fs, strings.Fields(args)); err == nil || err.Error() != want {
			t.Errorf("parseFlags(%s) error = %v, want %q", args, err, want)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{5}, 5},
		{[]float64{nan, 7, 1}, 4}, // NaN (not measured) left out
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := median([]float64{nan}); !math.IsNaN(got) {
		t.Errorf("median(NaN) = %v, want NaN", got)
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

func TestMedianFigures(t *testing.T) {
	a, b, c := notMeasured(), notMeasured(), notMeasured()
	a.ready, b.ready, c.ready = 3, 1, 2
	a.blobs, b.blobs, c.blobs = 20, 40, 20
	got := medianFigures([]figures{a, b, c})
	if got.ready != 2 || got.blobs != 20 || !math.IsNaN(got.cpu) {
		t.Errorf("medianFigures = %+v, want ready 2, blobs 20, cpu NaN", got)
	}
}

func TestRatioAndNum(t *testing.T) {
	for _, tc := range []struct{ a, b float64 }{{1, 4}, {3, 0}, {nan, 2}, {2, nan}} {
		got := ratio(tc.a, tc.b)
		want := map[[2]float64]string{{1, 4}: "0.25×", {3, 0}: "–"}[[2]float64{tc.a, tc.b}]
		if want == "" {
			want = "–"
		}
		if got != want {
			t.Errorf("ratio(%v, %v) = %q, want %q", tc.a, tc.b, got, want)
		}
	}
	if got := num(1.234, 2); got != "1.23" {
		t.Errorf("num = %q", got)
	}
	if got := num(nan, 0); got != "–" {
		t.Errorf("num(NaN) = %q", got)
	}
}

func TestRow(t *testing.T) {
	got := row("create → all Ready (s)", 2, [numSystems]float64{1, 4, 2, 0.5})
	want := "| create → all Ready (s) | 1.00 | 4.00 | 2.00 | 0.50 | 0.25× | 0.50× | 2.00× |\n"
	if got != want {
		t.Errorf("row =\n%q\nwant\n%q", got, want)
	}
}

func TestWriteSummaryAndCase(t *testing.T) {
	f := func(ready, blobs float64) figures {
		x := notMeasured()
		x.ready, x.blobs = ready, blobs
		return x
	}
	c := &caseResult{n: 500, modules: 20}
	c.rounds[sysWasmext] = []figures{f(4, 20), f(nan, 20), f(6, 20)}
	c.rounds[sysFluxDefault] = []figures{f(20, 500), f(24, 500), f(22, 500)}
	c.rounds[sysFluxTuned] = []figures{f(10, 500), f(10, 500), f(12, 500)}
	c.rounds[sysFloor] = []figures{f(2, 20), f(2, 20), f(2, 20)}
	var buf bytes.Buffer
	writeSummary(&buf, []*caseResult{c}, 8)
	want := "| 500 / 20 | 5.00 (1 of 3 rounds not all Ready) | 22.00 | 10.00 | 2.00 | 0.23× | 0.50× | 2.50× |\n"
	if !strings.Contains(buf.String(), "Flux `--concurrent=8`") || !strings.HasSuffix(buf.String(), want) {
		t.Errorf("writeSummary =\n%s\nwant the last line\n%s", buf.String(), want)
	}
	buf.Reset()
	writeCase(&buf, c, 8, "10s window")
	for _, want := range []string{
		"### N = 500 over 20 modules",
		"| registry: blob GETs | 20 | 500 | 500 | 20 | 0.04× | 0.04× | 1.00× |",
		"| &nbsp;&nbsp;each round (s) | 4.00, –, 6.00 | 20.00, 24.00, 22.00 |",
		"| CPU (s) | – | – | – | – | – | – | – |",
		"500 pulls (500 manifest GETs + 500 blob GETs) of 20 distinct modules, against wasmext's 20 blob GETs",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("writeCase lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestIstioModel(t *testing.T) {
	if got := istioModel(1, 50, 1); !strings.Contains(got, "1 pulls (1 manifest GETs + 1 blob GETs) of 1 distinct modules") {
		t.Errorf("istioModel(1, 50) = %q: one extension uses one module", got)
	}
}

func TestMachineParsers(t *testing.T) {
	if got := cpuModel("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags : x\n"); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := cpuModel(""); got != "unknown" {
		t.Errorf("cpuModel(\"\") = %q", got)
	}
	if got := memTotal("MemTotal:       25165824 kB\nMemFree: 1 kB\n"); got != 24<<30 {
		t.Errorf("memTotal = %d, want %d", got, int64(24<<30))
	}
	if got := osPretty("NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n"); got != "Debian GNU/Linux 13 (trixie)" {
		t.Errorf("osPretty = %q", got)
	}
}

func TestWriteReport(t *testing.T) {
	c := &caseResult{n: 1, modules: 50}
	for s := range numSystems {
		x := notMeasured()
		x.ready = 0.5
		c.rounds[s] = []figures{x}
	}
	var buf bytes.Buffer
	writeReport(&buf, reportMeta{date: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC), elapsed: 90 * time.Second, args: []string{"-peer", "flux"}, makeArgs: "-n 1",
		rounds: 1, concurrent: 8, steady: 10 * time.Second, namespaces: 1,
		machine: machineInfo{cpus: 2, cpuModel: "cpu", memTotal: 24 << 30, kernel: "6.1", osName: "Debian", goVersion: "go1.26.8", fluxVer: "v1.9.6", fluxGo: "go1.27.3"}},
		[]*caseResult{c})
	for _, want := range []string{
		"on 2026-12-01 14:00 UTC (the run took 1m30s)",
		"- CPU: 2 cores (cpu)",
		"- memory: 24.0 GiB; kernel 6.1; Debian",
		"source-controller v1.9.6 built with go1.27.3",
		"make bench-flux BENCH_ARGS=\"-n 1\"\n# runs: go run ./test/bench -peer flux\n",
		"| 1 / 50 | 0.50 | 0.50 | 0.50 | 0.50 | 1.00× | 1.00× | 1.00× |",
		"steady 10s window: API requests",
		"## What each figure means",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}
