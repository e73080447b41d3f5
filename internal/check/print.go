package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wasmext/wasmext/internal/sandbox"
)

// logLevels names the Proxy-Wasm log levels 0..5.
var logLevels = []string{"trace", "debug", "info", "warn", "error", "critical"}

func levelName(l int) string {
	if l >= 0 && l < len(logLevels) {
		return logLevels[l]
	}
	return fmt.Sprintf("level%d", l)
}

// JSONReport is the --json form of a Result.
type JSONReport struct {
	Passed      bool        `json:"passed"`
	Reason      string      `json:"reason,omitempty"`
	Message     string      `json:"message,omitempty"`
	Source      string      `json:"source,omitempty"`
	Format      string      `json:"format,omitempty"`
	Repository  string      `json:"repository,omitempty"`
	Digest      string      `json:"digest,omitempty"`
	SHA256      string      `json:"sha256,omitempty"`
	Size        int64       `json:"size,omitempty"`
	ABI         string      `json:"abi,omitempty"`
	Imports     []string    `json:"imports,omitempty"`
	EntryPoint  string      `json:"entryPoint,omitempty"`
	Allocator   string      `json:"allocator,omitempty"`
	PluginName  string      `json:"pluginName,omitempty"`
	Type        string      `json:"type"`
	ConfigBytes int         `json:"pluginConfigBytes"`
	DryRunKey   string      `json:"dryRunKey,omitempty"`
	Logs        []JSONLog   `json:"logs"`
	LogsDropped int         `json:"logsDroppedBytes,omitempty"`
	PeakPages   uint32      `json:"peakPages,omitempty"`
	Times       JSONTimings `json:"timesMs"`
}

// JSONLog is one line the module logged.
type JSONLog struct {
	Level   string `json:"level"`
	Message string `json:"message"`
}

// JSONTimings are the steps' durations in milliseconds.
type JSONTimings struct {
	Fetch   float64 `json:"fetch"`
	Inspect float64 `json:"inspect"`
	Compile float64 `json:"compile"`
	Run     float64 `json:"run"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// JSON returns r as its --json report.
func (r *Result) JSON() JSONReport {
	j := JSONReport{
		Passed: r.Passed(), Reason: r.Reason, PluginName: r.PluginName, Type: r.Type, ConfigBytes: r.ConfigSize,
		ABI: r.Facts.ABI, Imports: r.Facts.Imports, EntryPoint: r.Report.EntryPoint, Allocator: r.Report.Allocator,
		DryRunKey: r.Key, LogsDropped: r.Report.LogsDropped, PeakPages: r.Report.PeakPages, Logs: []JSONLog{},
		Times: JSONTimings{Inspect: ms(r.Inspect), Compile: ms(r.Report.Compile), Run: ms(r.Report.Run)},
	}
	if r.Err != nil {
		j.Message = r.Err.Error()
	}
	if m := r.Module; m != nil {
		j.Source, j.Format, j.Repository, j.Digest, j.SHA256, j.Size = m.Source, m.Format, m.Repository, m.Digest, m.SHA256, m.Size
		j.Times.Fetch = ms(m.Fetch)
	}
	for _, l := range r.Report.Logs {
		j.Logs = append(j.Logs, JSONLog{Level: levelName(l.Level), Message: l.Message})
	}
	return j
}

// WriteJSON writes r's JSON report, indented, to w.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.JSON())
}

// WriteText writes what r found for a person: the module, its facts, the
// dry run's log lines at minLevel (0 trace .. 5 critical) and above, the
// times, and the verdict.
func (r *Result) WriteText(w io.Writer, minLevel int) error {
	j := r.JSON()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("Module", j.Source)
	row("Format", j.Format)
	row("Repository", j.Repository)
	row("Digest", j.Digest)
	row("SHA-256", j.SHA256)
	if r.Module != nil {
		row("Size", fmt.Sprintf("%d bytes", j.Size))
	}
	row("ABI", j.ABI)
	row("Imports", strings.Join(j.Imports, ", "))
	row("Entry point", j.EntryPoint)
	row("Allocator", j.Allocator)
	if r.DryRun {
		row("Plugin", fmt.Sprintf("type %s, name %q, pluginConfig %d bytes", j.Type, j.PluginName, j.ConfigBytes))
		row("Peak memory", FormatPages(j.PeakPages))
	}
	row("Times", r.times())
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.DryRun {
		r.writeLogs(w, minLevel)
	}
	_, err := fmt.Fprintln(w, r.verdict())
	return err
}

// writeLogs prints the module's log lines at minLevel and above.
func (r *Result) writeLogs(w io.Writer, minLevel int) {
	var shown []sandbox.LogLine
	for _, l := range r.Report.Logs {
		if l.Level >= minLevel {
			shown = append(shown, l)
		}
	}
	fmt.Fprintf(w, "Module log (%d lines", len(r.Report.Logs))
	if hidden := len(r.Report.Logs) - len(shown); hidden > 0 {
		fmt.Fprintf(w, ", %d below %s not shown", hidden, levelName(minLevel))
	}
	if r.Report.LogsDropped > 0 {
		fmt.Fprintf(w, ", %d bytes over the cap dropped", r.Report.LogsDropped)
	}
	fmt.Fprintln(w, "):")
	for _, l := range shown {
		fmt.Fprintf(w, "  %s: %s\n", levelName(l.Level), l.Message)
	}
}

// ParseLogLevel returns the Proxy-Wasm log level named s (trace, debug,
// info, warn, error, critical).
func ParseLogLevel(s string) (int, error) {
	for i, n := range logLevels {
		if strings.EqualFold(s, n) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("log level %q: want one of %s", s, strings.Join(logLevels, ", "))
}

// times lists the steps that ran with their durations.
func (r *Result) times() string {
	var parts []string
	if m := r.Module; m != nil {
		verb := "fetch "
		if m.Format == FormatFile {
			verb = "read "
		}
		parts = append(parts, verb+round(m.Fetch))
	}
	if r.Inspect > 0 {
		parts = append(parts, "inspect "+round(r.Inspect))
	}
	if r.DryRun {
		if r.Report.Cached {
			parts = append(parts, "dry run cached")
		} else {
			parts = append(parts, "compile "+round(r.Report.Compile), "dry run "+round(r.Report.Run))
		}
	}
	return strings.Join(parts, ", ")
}

func round(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// verdict is the last line: PASS, or FAIL with the Reason.
func (r *Result) verdict() string {
	switch {
	case r.Passed():
		return "Result: PASS (the operator would set ModuleValidated True)"
	case r.Failed():
		return "Result: FAIL " + r.Reason
	}
	return "Result: ERROR (the check could not run)"
}
