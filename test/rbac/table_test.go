package rbac

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Verdicts of one removal.
const (
	caught = "caught"
	// unused: every scenario passed and the operator never asked for it.
	unused = "UNUSED (no scenario failed, never requested): remove it from the RBAC markers (controllers) or the leader election role"
	// unnoticed: refused, yet every scenario passed: a scenario is missing.
	unnoticed = "NOT CAUGHT (refused, yet every scenario passed): a scenario is missing"
	// unexplained: a scenario failed but the permission was never refused.
	unexplained = "INCONCLUSIVE (a scenario failed, the permission was never refused)"
)

// row is one line of the table: a permission, what its removal broke, and
// the refused request that shows the code path.
type row struct {
	p        perm
	verdict  string
	scenario string // the scenario that failed
	request  string // the first request refused for p
	detail   string
	took     time.Duration
}

// judge decides what a run without p showed.
func judge(p perm, out *outcome) row {
	r := row{p: p, scenario: out.failed, took: out.total}
	f, refused := out.refused.of(p)
	if refused {
		r.request = f.method + " " + f.path
		if strings.Contains(f.message, blockingOwnerRefusal) {
			r.request += " (OwnerReferencesPermissionEnforcement: blockOwnerDeletion)"
		}
	}
	switch {
	case out.err != nil && refused:
		r.verdict, r.detail = caught, firstLine(out.err.Error())
	case out.err == nil && !refused:
		r.verdict, r.detail = unused, "all scenarios passed; refused meanwhile: "+orNone(out.refused.summary())
	case out.err == nil:
		r.verdict, r.detail = unnoticed, "refused "+f.String()
	default:
		r.verdict, r.detail = unexplained, fmt.Sprintf("%s failed: %v; refused: %s", out.failed, out.err, orNone(out.refused.summary()))
	}
	return r
}

// pathOf describes the code path a failed scenario exercises; for the
// manager itself, the start-up step the permission p is needed by.
func pathOf(scenario string, p perm) string {
	switch {
	case scenario == "manager" && p.Resource == "leases":
		return "leader election (client-go LeaseLock): never leader, no controller started"
	case scenario == "manager":
		return "informer cache: list and watch of every watched kind (For, Watches, rendered kinds, ServeRenderedModules)"
	}
	for _, s := range scenarios() {
		if s.name == scenario {
			return s.path
		}
	}
	return "?"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// logTable prints permission → the scenario its removal failed → the
// request the apiserver refused, then what each scenario exercises.
func logTable(t *testing.T, rows []row) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-84s | %-6s | %-28s | %s\n", "permission", "took", "failed scenario", "refused request (or verdict)")
	for _, r := range rows {
		scenario, request := r.scenario, r.request
		if r.verdict != caught {
			scenario, request = "-", r.verdict
		}
		fmt.Fprintf(&b, "%-84s | %-6s | %-28s | %s\n", r.p, r.took.Round(100*time.Millisecond), scenario, request)
	}
	b.WriteString("\nscenarios:\n")
	fmt.Fprintf(&b, "  %-28s %s\n", "manager", pathOf("manager", perm{}))
	fmt.Fprintf(&b, "  %-28s %s\n", "", pathOf("manager", perm{Resource: "leases"}))
	for _, s := range scenarios() {
		fmt.Fprintf(&b, "  %-28s %s\n", s.name, s.path)
	}
	t.Log(b.String())
}
