package rbac

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/wasmext/wasmext/internal/testenv"
	"github.com/wasmext/wasmext/internal/testenv/ci"
)

// positiveTimeout bounds each scenario under the full roles (a loaded
// machine); minNegativeTimeout is the least each scenario gets under a
// reduced role, raised to 3x the slowest scenario of the full run.
const (
	positiveTimeout    = 60 * time.Second
	minNegativeTimeout = 8 * time.Second
)

// TestRBAC runs the core scenarios as the operator's ServiceAccount under
// the rendered roles, then once per permission with that permission
// removed, and requires every removal to fail a scenario with the
// apiserver refusing exactly that permission.
func TestRBAC(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		ci.Skipf(t, "KUBEBUILDER_ASSETS is not set (make test sets it)")
	}
	if helm, chart, haveHelm, haveChart := chartPaths(mustRepoRoot(t)); haveChart && !haveHelm {
		if ci.Enabled() {
			t.Fatalf("%s exists but helm %s does not: the chart's RBAC would go unproven (CI=true)", chart, helm)
		}
		t.Logf("%s exists but helm %s does not (make helm builds it): proving config/rbac instead", chart, helm)
	}
	setLoggers()
	begin := time.Now()
	h := startControlPlane(t)
	h.pushModules(t)
	h.createScraper(t)
	var err error
	if h.base, err = loadGrants(h.env.RepoRoot, operatorNS); err != nil {
		t.Fatal(err)
	}
	if h.perms, err = h.base.permissions(); err != nil {
		t.Fatal(err)
	}
	t.Logf("RBAC from %s: ServiceAccount %s/%s, %d permissions (%d ClusterRoles, %d Roles); control plane up in %s",
		h.base.source, h.base.sa.Namespace, h.base.sa.Name, len(h.perms), len(h.base.clusterRoles), len(h.base.roles), time.Since(begin).Round(time.Second))
	negative := h.positiveRun(t)
	rows := make([]row, 0, len(h.perms))
	only := os.Getenv("WASMEXT_RBAC_ONLY") // e.g. "leases": remove only the permissions whose name contains it
	for i, p := range h.perms {
		if strings.Contains(p.String(), only) {
			rows = append(rows, h.negativeRun(t, i+1, p, negative))
		}
	}
	logTable(t, rows)
	for _, r := range rows {
		if r.verdict != caught {
			t.Errorf("%s: %s: %s", r.p, r.verdict, r.detail)
		}
	}
	t.Logf("TestRBAC took %s (%d runs, negative timeout %s)", time.Since(begin).Round(time.Second), len(rows)+1, negative)
}

// negativeRun runs the scenarios without p. A failure the apiserver did
// not explain (no refusal of p: a loaded machine?) is run once more.
func (h *harness) negativeRun(t *testing.T, i int, p perm, timeout time.Duration) row {
	t.Helper()
	var r row
	for attempt := 0; attempt < 2; attempt++ {
		out, err := h.runOnce(context.Background(), i+attempt*1000, &p, timeout)
		if err != nil {
			t.Fatalf("run without %s: %v", p, err)
		}
		if r = judge(p, out); r.verdict != unexplained {
			return r
		}
		t.Logf("without %s: %s; running it again", p, r.detail)
	}
	return r
}

// positiveRun runs every scenario under the rendered roles; all must pass
// without a single refusal. It returns the per-scenario timeout of the
// negative runs.
func (h *harness) positiveRun(t *testing.T) time.Duration {
	t.Helper()
	out, err := h.runOnce(context.Background(), 0, nil, positiveTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if out.err != nil {
		t.Fatalf("MISSING permission? Under the rendered roles scenario %q failed: %v\nrefused: %s", out.failed, out.err, out.refused.summary())
	}
	if f := out.refused.all(); len(f) > 0 {
		t.Errorf("MISSING permission: under the rendered roles the operator was refused %d requests, first %s", len(f), f[0])
	}
	slowest, names := time.Duration(0), make([]string, 0, len(out.took))
	for name, d := range out.took {
		slowest = max(slowest, d)
		names = append(names, fmt.Sprintf("%s %s", name, d.Round(10*time.Millisecond)))
	}
	sort.Strings(names)
	t.Logf("full roles: every scenario passed in %s: %s", out.total.Round(10*time.Millisecond), strings.Join(names, ", "))
	return max(minNegativeTimeout, 3*slowest)
}

func mustRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// setLoggers silences the manager and client-go (a reduced role makes them
// log every refusal) unless WASMEXT_TEST_DEBUG is set.
func setLoggers() {
	w, level := io.Discard, zapcore.ErrorLevel
	if os.Getenv("WASMEXT_TEST_DEBUG") != "" {
		w, level = os.Stderr, zapcore.DebugLevel
	}
	l := zap.New(zap.WriteTo(w), zap.Level(level))
	ctrl.SetLogger(l)
	klog.SetLogger(l)
}
