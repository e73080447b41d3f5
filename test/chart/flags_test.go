package chart

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// helpFlag matches a flag in the operator's --help ("      --name type   usage").
var helpFlag = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9-]+)`)

// operatorFlags builds the operator and returns the flags its --help lists.
func operatorFlags(t *testing.T) map[string]bool {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "manager")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// --help exits 2 (pflag.ErrHelp); the text is what matters.
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	flags := map[string]bool{}
	for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if !flags["leader-elect"] || !flags["module-server-url"] {
		t.Fatalf("no flags read from the operator's --help:\n%s", out)
	}
	return flags
}

// TestArgsAreOperatorFlags: every flag the chart passes, with default and with custom values,
// is one the operator defines, so a renamed or removed flag fails here and not in a pod.
func TestArgsAreOperatorFlags(t *testing.T) {
	needHelm(t)
	flags := operatorFlags(t)
	for name, args := range map[string][]string{
		"default values": nil,
		"custom values":  {"--values", valuesFile(t, customValues)},
	} {
		var d appsv1.Deployment
		typed(t, render(t, "flags", "ops", args...).get(t, "Deployment", "ops", "flags-wasmext"), &d)
		for _, arg := range d.Spec.Template.Spec.Containers[0].Args {
			flag, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
			if !strings.HasPrefix(arg, "--") || !flags[flag] {
				t.Errorf("%s: the chart passes %q, which is not a flag of the operator", name, arg)
			}
		}
	}
}
