package main

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		wantNs       []int
		wantInterval time.Duration
		wantErr      string
	}{
		{nil, []int{1, 500}, 30 * time.Second, ""}, // -resync auto with -verify: steady/2
		{[]string{"-n", "1, 100", "-steady", "0"}, []int{1, 100}, 0, ""},
		{[]string{"-steady", "50s"}, []int{1, 500}, 25 * time.Second, ""},
		{[]string{"-steady", "3s"}, []int{1, 500}, 10 * time.Second, ""}, // never under the API's 10s minimum
		{[]string{"-verify=false"}, []int{1, 500}, 0, ""},
		{[]string{"-resync", "off"}, []int{1, 500}, 0, ""},
		{[]string{"-resync", "45s", "-verify=false"}, []int{1, 500}, 45 * time.Second, ""},
		{[]string{"-n", "1,x"}, nil, 0, `-n: "x" is not a positive number`},
		{[]string{"-n", "0"}, nil, 0, `-n: "0" is not a positive number`},
		{[]string{"-modules", "0"}, nil, 0, "-modules, -namespaces, -creators and -concurrent must be positive"},
		{[]string{"-concurrent", "0"}, nil, 0, "-modules, -namespaces, -creators and -concurrent must be positive"},
		{[]string{"-resync", "soon"}, nil, 0, `-resync: "soon" is not auto, off or a duration of at least 10s (the API's minimum)`},
		{[]string{"-resync", "-1s"}, nil, 0, `-resync: "-1s" is not auto, off or a duration of at least 10s (the API's minimum)`},
		{[]string{"-resync", "5s"}, nil, 0, `-resync: "5s" is not auto, off or a duration of at least 10s (the API's minimum)`},
	} {
		fs := flag.NewFlagSet("bench", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o, err := parseFlags(fs, tc.args)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("parseFlags(%q) error = %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(o.ns, tc.wantNs) || o.interval != tc.wantInterval {
			t.Errorf("parseFlags(%q) = ns %v, interval %s, %v; want %v, %s", tc.args, o.ns, o.interval, err, tc.wantNs, tc.wantInterval)
		}
	}
}

func TestPct(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 90, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
	} {
		if got := pct(tc.sorted, tc.p); got != tc.want {
			t.Errorf("pct(%v, %d) = %s, want %s", tc.sorted, tc.p, got, tc.want)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP rest_client_requests_total Number of HTTP requests.
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="127.0.0.1:1",method="GET"} 12
rest_client_requests_total{code="201",host="127.0.0.1:1",method="PATCH"} 3
rest_client_requests_total{code="200",host="127.0.0.1:1",method="GET",note="a \"quoted\" value"} 1
controller_runtime_reconcile_total{controller="wasmextension",result="success"} 5 1700000000
broken{code="200" 1
`
	m, err := parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.sum("rest_client_requests_total", nil); got != 16 {
		t.Errorf("sum = %v, want 16", got)
	}
	if got := m.by("rest_client_requests_total", nil, "method"); !reflect.DeepEqual(got, map[string]float64{"GET": 13, "PATCH": 3}) {
		t.Errorf("by method = %v", got)
	}
	if got := m.sum("controller_runtime_reconcile_total", map[string]string{"controller": "wasmextension"}); got != 5 {
		t.Errorf("reconciles = %v, want 5", got)
	}
	if len(m) != 4 {
		t.Errorf("parsed %d samples, want 4 (the broken line left out)", len(m))
	}
	if got := delta(map[string]float64{"a": 5, "b": 2}, map[string]float64{"a": 3, "b": 2}); !reflect.DeepEqual(got, map[string]float64{"a": 2}) {
		t.Errorf("delta = %v, want only the changed key", got)
	}
}
