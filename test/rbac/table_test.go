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
	unused = "UNUSED (no scenario failed, never requested): remove it from the RBAC markers / the chart"
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
	path     string // its code path
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
	}
	switch {
	case out.err != nil && refused:
		r.verdict, r.path, r.detail = caught, pathOf(out.failed), firstLine(out.err.Error())
	case out.err == nil && !refused:
		r.verdict, r.detail = unused, "all scenarios passed; refused meanwhile: "+orNone(out.refused.summary())
	case out.err == nil:
		r.verdict, r.detail = unnoticed, "refused "+f.String()
	default:
		r.verdict, r.detail = unexplained, fmt.Sprintf("%s failed: %v; refused: %s", out.failed, out.err, orNone(out.refused.summary()))
	}
	return r
}

func pathOf(scenario string) string {
	if scenario == "manager" {
		return "manager start: informer cache (list+watch of each watched kind)"
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

// logTable prints rule → scenario and code path → refused request.
func logTable(t *testing.T, rows []row) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-78s | %-8s | %-28s | %s\n", "permission", "took", "caught by scenario", "refused request; code path")
	for _, r := range rows {
		if r.verdict != caught {
			fmt.Fprintf(&b, "%-78s | %-8s | %-28s | %s\n", r.p, r.took.Round(100*time.Millisecond), "-", r.verdict)
			continue
		}
		fmt.Fprintf(&b, "%-78s | %-8s | %-28s | %s; %s\n", r.p, r.took.Round(100*time.Millisecond), r.scenario, r.request, r.path)
	}
	t.Log(b.String())
}
