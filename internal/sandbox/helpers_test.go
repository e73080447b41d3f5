package sandbox

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testTimeout is the dry-run limit the tests use.
const testTimeout = 2 * time.Second

// newSandbox returns a sandbox with the test time limit, closed at the end.
func newSandbox(t testing.TB, cfg Config) *Sandbox {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = testTimeout
	}
	s := New(cfg)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// fixture reads testdata/<name>.wasm.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantSentinel fails unless err wraps want and no other sentinel.
func wantSentinel(t testing.TB, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	for _, s := range sentinels {
		if got := errors.Is(err, s); got != (s == want) {
			t.Errorf("errors.Is(err, %q) = %v; err: %v", s, got, err)
		}
	}
}

// wantContains fails unless s contains every part.
func wantContains(t testing.TB, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%q does not contain %q", s, p)
		}
	}
}

// logText renders captured lines one per line.
func logText(logs []LogLine) string {
	lines := make([]string, len(logs))
	for i, l := range logs {
		lines[i] = l.String()
	}
	return strings.Join(lines, "\n")
}

// record is one hostcalls.wasm call: the host function's index (see the
// list in testdata/hostcalls.wat) and up to 12 arguments.
func record(fn byte, args ...uint32) []byte {
	b := make([]byte, 49)
	b[0] = fn
	for i, a := range args {
		binary.LittleEndian.PutUint32(b[1+4*i:], a)
	}
	return b
}

// Indexes of hostcalls.wasm's functions used by the tests.
const (
	hcLog           = 0
	hcGetProperty   = 4
	hcSetShared     = 7
	hcGetHeader     = 12
	hcGetBuffer     = 20
	hcHTTPCall      = 22
	hcTime          = 29
	hcFdWrite       = 41
	hcRandom        = 56
	hcPollOneoff    = 58
	hcFunctionCount = 60
)

// results runs hostcalls.wasm with the records and returns each call's
// result (its low byte), which the module logs last.
func results(t testing.TB, s *Sandbox, records ...[]byte) (Report, []byte) {
	t.Helper()
	cfg := []byte{}
	for _, r := range records {
		cfg = append(cfg, r...)
	}
	rep, err := s.Run(context.Background(), Input{Wasm: fixture(t, "hostcalls"), PluginConfig: cfg, PluginName: "p"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rep.Logs) == 0 {
		t.Fatal("hostcalls.wasm logged nothing")
	}
	return rep, []byte(rep.Logs[len(rep.Logs)-1].Message)
}
