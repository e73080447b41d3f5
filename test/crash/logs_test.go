package crash

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// logErrors counts the lines the operator's starts logged at level error,
// by message (and error text, cut short), over every operator-*.log in dir.
func logErrors(dir string) (map[string]int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "operator-*.log"))
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		s := bufio.NewScanner(f)
		s.Buffer(make([]byte, 64<<10), 4<<20)
		for s.Scan() {
			if k, ok := errorLine(s.Bytes()); ok {
				out[k]++
			}
		}
		_ = f.Close()
		if err := s.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var quoted = regexp.MustCompile(`"[^"]*"`)

// errorLine returns "msg: error" of a JSON log line at level error, with
// quoted names in the error elided.
func errorLine(line []byte) (string, bool) {
	var l struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
		Error string `json:"error"`
	}
	if json.Unmarshal(line, &l) != nil || l.Level != "error" {
		return "", false
	}
	e := quoted.ReplaceAllString(l.Error, `"…"`) // names would split the counts
	if len(e) > 160 {
		e = e[:160] + "…"
	}
	return strings.TrimSuffix(l.Msg+": "+e, ": "), true
}

// topCounts formats the n largest counts of m, largest first.
func topCounts(m map[string]int, n int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	var out []string
	for _, k := range keys[:min(n, len(keys))] {
		out = append(out, strconv.Itoa(m[k])+"× "+k)
	}
	return out
}

func TestErrorLine(t *testing.T) {
	for line, want := range map[string]string{
		`{"level":"error","msg":"Reconciler error","error":"boom"}`:              "Reconciler error: boom",
		`{"level":"error","msg":"Reconciler error","error":"x \"a\" not found"}`: `Reconciler error: x "…" not found`,
		`{"level":"error","msg":"Failed"}`:                                       "Failed",
		`{"level":"info","msg":"Started"}`:                                       "",
		`not json`:                                                               "",
	} {
		got, ok := errorLine([]byte(line))
		if got != want || ok != (want != "") {
			t.Errorf("errorLine(%s) = %q, %v; want %q", line, got, ok, want)
		}
	}
	if got := topCounts(map[string]int{"a": 1, "b": 3, "c": 2}, 2); strings.Join(got, ",") != "3× b,2× c" {
		t.Errorf("topCounts = %q", got)
	}
}
