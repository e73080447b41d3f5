// Package ci decides what a test does when a tool or module it needs is
// missing: on a developer's machine it skips, on CI (environment variable
// CI=true, as GitHub Actions and GitLab set it) it fails, so that a CI image
// without the tool cannot pass by skipping.
//
// It owns that one decision. It must stay dependency-free (standard library
// only), so that any test package can import it.
package ci

import (
	"os"
	"strconv"
	"testing"
)

// Skipf skips t with the formatted message, or fails it with the same
// message followed by " (CI=true)" when the environment variable CI is true.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	if Enabled() {
		t.Fatalf(format+" (CI=true)", args...)
		return
	}
	t.Skipf(format, args...)
}

// Enabled reports whether the environment variable CI holds a true value
// ("true", "1", ... as strconv.ParseBool reads it).
func Enabled() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}
