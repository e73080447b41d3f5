package ci_test

import (
	"fmt"
	"testing"

	"github.com/wasmext/wasmext/internal/testenv/ci"
)

// recorder is a testing.TB that records how the test would have ended
// instead of ending it.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = true
	r.msg = fmt.Sprintf(format, args...)
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = true
	r.msg = fmt.Sprintf(format, args...)
}

func TestSkipf(t *testing.T) {
	for _, tc := range []struct {
		ci                  string
		wantSkip, wantFatal bool
		wantMsg             string
	}{
		{"", true, false, "tool x not on PATH"},
		{"false", true, false, "tool x not on PATH"},
		{"no", true, false, "tool x not on PATH"},
		{"true", false, true, "tool x not on PATH (CI=true)"},
		{"1", false, true, "tool x not on PATH (CI=true)"},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			ci.Skipf(r, "tool %s not on PATH", "x")
			if r.skipped != tc.wantSkip || r.failed != tc.wantFatal || r.msg != tc.wantMsg {
				t.Errorf("skipped %v, failed %v, message %q; want %v, %v, %q",
					r.skipped, r.failed, r.msg, tc.wantSkip, tc.wantFatal, tc.wantMsg)
			}
		})
	}
}
