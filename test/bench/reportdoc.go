package main

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// machineInfo describes the machine the report was measured on.
type machineInfo struct {
	cpus            int
	cpuModel        string
	memTotal        int64 // bytes
	kernel, osName  string
	goVersion       string // the bench's (and the operator's: built with the same go)
	loadStart       string
	fluxGo, fluxVer string // source-controller's Go and module version
	wasmextRev      string // the operator binary's VCS revision
}

// readMachine reads the machine's description at run time.
func readMachine(operatorBin, fluxBin string) machineInfo {
	m := machineInfo{cpus: goruntime.NumCPU(), goVersion: goruntime.Version(), loadStart: loadavg()}
	m.cpuModel = cpuModel(readText("/proc/cpuinfo"))
	m.memTotal = memTotal(readText("/proc/meminfo"))
	m.kernel = strings.TrimSpace(readText("/proc/sys/kernel/osrelease"))
	m.osName = osPretty(readText("/etc/os-release"))
	if bi, err := buildinfo.ReadFile(fluxBin); err == nil {
		m.fluxGo = bi.GoVersion
		if bi.Main.Path == fluxModule {
			m.fluxVer = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == fluxModule {
				m.fluxVer = d.Version
			}
		}
	}
	if bi, err := buildinfo.ReadFile(operatorBin); err == nil {
		m.wasmextRev = vcsRevision(bi.Settings)
	}
	if m.wasmextRev == "" { // built without VCS stamping: ask git
		m.wasmextRev = gitRevision(filepath.Dir(filepath.Dir(operatorBin)))
	}
	return m
}

// gitRevision is the short HEAD of the work tree at dir, "+dirty" when it
// has uncommitted changes to tracked files ("" without git).
func gitRevision(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		rev += "+dirty"
	}
	return rev
}

func readText(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// cpuModel is the first "model name" of /proc/cpuinfo ("unknown" if none).
func cpuModel(cpuinfo string) string {
	for line := range strings.Lines(cpuinfo) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// memTotal is MemTotal of /proc/meminfo in bytes (0 if absent).
func memTotal(meminfo string) int64 {
	s := bufio.NewScanner(strings.NewReader(meminfo))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// osPretty is PRETTY_NAME of /etc/os-release ("unknown" if absent).
func osPretty(osRelease string) string {
	for line := range strings.Lines(osRelease) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "unknown"
}

// vcsRevision is the short revision of a build, "+dirty" when modified.
func vcsRevision(settings []debug.BuildSetting) string {
	rev, dirty := "", false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && dirty {
		rev += "+dirty"
	}
	return rev
}

// reportMeta is what the report says besides the figures.
type reportMeta struct {
	date       time.Time
	elapsed    time.Duration
	args       []string // the bench's arguments
	makeArgs   string   // BENCH_ARGS when run by make (MAKELEVEL set), else "-" for a direct go run
	rounds     int
	verify     bool
	concurrent int // wasmext's --concurrent, and the tuned Flux's
	steady     time.Duration
	namespaces int
	creators   int // the bench client's parallel requests
	machine    machineInfo
}

// writeReport writes docs/benchmarks.md.
func writeReport(w io.Writer, m reportMeta, cases []*caseResult) {
	fmt.Fprintf(w, "# Benchmarks: wasmext, Flux source-controller and the floor, in one run\n\n")
	fmt.Fprintf(w, "Written by `make bench-flux` on %s (the run took %s). Do not edit by hand: run it again.\n\n",
		m.date.UTC().Format("2006-01-02 15:04 MST"), m.elapsed.Round(time.Second))
	writeMachine(w, m)
	fmt.Fprintf(w, "\n## Create → all Ready (s), median of %d rounds\n\n", m.rounds)
	writeSummary(w, cases, m.concurrent)
	fmt.Fprintf(w, "\n## Every figure, per N\n")
	steady := "window"
	if m.steady > 0 {
		steady = m.steady.String() + " window"
	}
	for _, c := range cases {
		writeCase(w, c, m.concurrent, steady)
	}
	writeMeaning(w, m)
}

func writeMachine(w io.Writer, m reportMeta) {
	mc := m.machine
	fmt.Fprintf(w, "## Machine and command\n\n")
	fmt.Fprintf(w, "- CPU: %d cores (%s), shared by the control plane, the registry, the bench and the system under test\n", mc.cpus, mc.cpuModel)
	fmt.Fprintf(w, "- memory: %.1f GiB; kernel %s; %s\n", float64(mc.memTotal)/(1<<30), mc.kernel, mc.osName)
	fmt.Fprintf(w, "- Go: %s (bench and operator); source-controller %s built with %s\n", mc.goVersion, orUnknown(mc.fluxVer), orUnknown(mc.fluxGo))
	fmt.Fprintf(w, "- wasmext: revision %s; load average at the start: %s\n", orUnknown(mc.wasmextRev), mc.loadStart)
	verify := "off (`BENCH_ARGS=-verify` turns it on for both)"
	if m.verify {
		verify = "on for both: wasmext `spec.verify.cosign.publicKeySecretRef`, Flux `spec.verify.provider: cosign` with the same key Secret"
	}
	fmt.Fprintf(w, "- cosign verification: %s\n", verify)
	fmt.Fprintf(w, "- %d rounds per N, in alternating order (wasmext, Flux `--concurrent=%d`, Flux `--concurrent=%d`, floor; then the reverse); objects in %d namespace(s)\n\n",
		m.rounds, fluxDefaultConc, m.concurrent, m.namespaces)
	fmt.Fprintf(w, "```\n%s# runs: go run ./test/bench %s\n```\n", makeLine(m.makeArgs), strings.Join(m.args, " "))
}

// makeLine is the make command that ran the bench ("" when it was not make).
func makeLine(benchArgs string) string {
	switch benchArgs {
	case "-":
		return ""
	case "":
		return "make bench-flux\n"
	}
	return fmt.Sprintf("make bench-flux BENCH_ARGS=%q\n", benchArgs)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func writeMeaning(w io.Writer, m reportMeta) {
	fmt.Fprintf(w, "\n## What each figure means\n\n")
	for _, s := range []string{
		"Every round of every system gets a fresh kube-apiserver + etcd (envtest) and a freshly started process; the in-process OCI registry (`internal/oci/ocitest`, behind a counting proxy) is shared, its counts reset per round. Each figure is the median over the rounds of that figure alone.",
		fmt.Sprintf("**wasmext**: the operator (`go build .`) as a child process, `--concurrent=%d`, its default QPS and burst; N `WasmExtension`s, extension i using module i mod M.", m.concurrent),
		fmt.Sprintf("**Flux**: source-controller (`hack/tools/flux`) as a child process against the same kind of control plane and the same registry, with N `OCIRepository`s for the same artifacts (`oci://` repository, `ref.tag`, `insecure: true` for plain HTTP, `layerSelector` `application/wasm` with `operation: copy`), its default QPS (50) and burst (300); at its default `--concurrent=%d` and at wasmext's `--concurrent=%d`.", fluxDefaultConc, m.concurrent),
		fmt.Sprintf("**floor**: the same work with nothing in between, timed in the same run: the bench's high-QPS client creates the N `WasmExtension`s and, for each, the `TrafficExtension` wasmext renders and a status update to Ready (%d parallel requests), while one manifest GET and one blob GET per module in use go straight to the registry (as many at a time). No controller can do less and still write what wasmext writes.",
			m.creators),
		"**create → all Ready**: from the first create until the last object is Ready for its generation (a watch); the creates are in it.",
		"**registry**: requests the system made from the first create until it went quiet (no API request or reconcile for 1.5 s): manifest HEADs + GETs and blob GETs of the modules, and every request for a signature artifact (referrers, bundle manifests and blobs, legacy tags) apart.",
		"**API requests / writes per object**: the system's own client-go requests (`rest_client_requests_total` of its /metrics: GET counts gets, lists and watches; writes are POST, PUT, PATCH, DELETE), events included, over N. The bench's creates are not in it. For the floor: its writes (rendered object + status) over N. *Of which Events (sent or queued)*: the Event writes the apiserver counted, plus, for wasmext, the Events still in its queue when it went quiet (`wasmext_events_pending`): wasmext queues its Normal Events and sends them apart, at --event-qps and after the rollout, so each is a write that is not on an extension's path to Ready (2 writes) but comes later. The quiet test leaves wasmext's POSTs (its Events) out, so the bench does not wait for the queue to drain.",
		"**CPU, peak RSS**: the child process' user + system CPU in the same window, and its peak RSS (VmHWM) since it started. Not measured for the floor, which runs in the bench.",
		"**steady window**: API and registry requests of the idle process in a window after all were Ready (first round only; `-steady`). The rollout's queued Events that wasmext writes in the window are left out: they are counted with the rollout above.",
		"**Istio's native path (model)**: no pods run here. The model assumes each pod's istio-agent pulls the module itself (manifest + blob, its own per-pod cache, nothing shared between pods), each extension selects its own pods, and pulls are counted once per pod after a cold start; xDS and proxy start-up time are not part of the model. So registry pulls = pods, against wasmext's one blob GET per digest whose proxies fetch from the operator's module server (delivery Cache).",
		"Ratios are wasmext's figure over the other's: below 1× wasmext is faster or cheaper.",
	} {
		fmt.Fprintf(w, "- %s\n", s)
	}
}
