package main

import (
	"path/filepath"
	"testing"
	"time"
)

func TestProfileURL(t *testing.T) {
	for _, tc := range []struct {
		kind string
		d    time.Duration
		want string
	}{
		{"profile", 2 * time.Second, "http://127.0.0.1:1/debug/pprof/profile?seconds=2"},
		{"profile", 1600 * time.Millisecond, "http://127.0.0.1:1/debug/pprof/profile?seconds=2"},
		{"profile", 100 * time.Millisecond, "http://127.0.0.1:1/debug/pprof/profile?seconds=1"}, // never 0 (the endpoint's default 30s)
		{"heap", 0, "http://127.0.0.1:1/debug/pprof/heap?gc=1"},
		{"allocs", time.Second, "http://127.0.0.1:1/debug/pprof/allocs"},
	} {
		if got := profileURL("http://127.0.0.1:1", tc.kind, tc.d); got != tc.want {
			t.Errorf("profileURL(%s, %s) = %s; want %s", tc.kind, tc.d, got, tc.want)
		}
	}
}

func TestProfileFile(t *testing.T) {
	if got, want := profileFile("out", 1000, false, "cpu"), filepath.Join("out", "1000-cpu.pprof"); got != want {
		t.Errorf("verification off: %s; want %s", got, want)
	}
	if got, want := profileFile("out", 500, true, "allocs"), filepath.Join("out", "500-verify-allocs.pprof"); got != want {
		t.Errorf("verification on: %s; want %s", got, want)
	}
}
