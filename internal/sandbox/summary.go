package sandbox

import (
	"strings"
)

// Limits of what error messages quote.
const (
	summaryLines    = 5
	summaryLineSize = 300
	traceLines      = 8
)

// logSummary quotes the module's last log lines for an error message:
// warnings and worse when there are any (that is where SDKs say what is
// wrong with a configuration), else the last lines of any level.
func logSummary(logs []LogLine) string {
	var picked []LogLine
	for _, l := range logs {
		if l.Level >= 3 {
			picked = append(picked, l)
		}
	}
	if len(picked) == 0 {
		picked = logs
	}
	if len(picked) == 0 {
		return "the module logged nothing"
	}
	picked = picked[max(len(picked)-summaryLines, 0):]
	quoted := make([]string, len(picked))
	for i, l := range picked {
		quoted[i] = trimLine(l.String())
	}
	return "the module logged: " + strings.Join(quoted, " | ")
}

// trimLine flattens a line and cuts it to summaryLineSize bytes.
func trimLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > summaryLineSize {
		s = s[:summaryLineSize] + "..."
	}
	return s
}

// trimTrace keeps the first lines of a wazero error: the trap and the top
// of the wasm stack trace.
func trimTrace(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > traceLines {
		lines = append(lines[:traceLines], "\t...")
	}
	return strings.Join(lines, "\n")
}
