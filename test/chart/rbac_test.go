package chart

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// grant is one verb on one resource of one API group (or on one non-resource URL).
type grant struct{ group, resource, url, verb string }

// grants expands rules into single grants, sorted, each once.
func grants(rules []rbacv1.PolicyRule) []grant {
	var out []grant
	for _, r := range rules {
		for _, v := range r.Verbs {
			for _, u := range r.NonResourceURLs {
				out = append(out, grant{url: u, verb: v})
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					out = append(out, grant{group: g, resource: res, verb: v})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b grant) int {
		return cmp.Or(cmp.Compare(a.group, b.group), cmp.Compare(a.resource, b.resource),
			cmp.Compare(a.url, b.url), cmp.Compare(a.verb, b.verb))
	})
	return slices.Compact(out)
}

// isSecret reports whether g is about core Secrets.
func isSecret(g grant) bool { return g.group == "" && g.resource == "secrets" }

// fileRules reads the rules of a Role or ClusterRole file of the repository (config/rbac).
func fileRules(t *testing.T, rel string) []rbacv1.PolicyRule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return role.Rules
}

// TestRBACIsGenerated: the chart grants exactly what controller-gen generated from the
// +kubebuilder:rbac markers (config/rbac/role.yaml), no more and no less, with Secrets moved
// into one Role per namespace of secretNamespaces; and leader election only in the release
// namespace.
func TestRBACIsGenerated(t *testing.T) {
	needHelm(t)
	want := grants(fileRules(t, "config/rbac/role.yaml"))
	wantLeader := grants(fileRules(t, "config/rbac/leader_election_role.yaml"))
	var wantSecrets, wantNoSecrets []grant
	for _, g := range want {
		if isSecret(g) {
			wantSecrets = append(wantSecrets, g)
		} else {
			wantNoSecrets = append(wantNoSecrets, g)
		}
	}
	if len(wantSecrets) == 0 {
		t.Fatal("config/rbac/role.yaml grants nothing on Secrets; the operator reads pull Secrets")
	}

	t.Run("cluster-wide Secrets", func(t *testing.T) {
		objs := render(t, "rbac", "ops")
		expectGrants(t, "manager ClusterRole", rules(t, objs.get(t, "ClusterRole", "", "rbac-wasmext-manager")), want)
		expectGrants(t, "leader election Role", rules(t, objs.get(t, "Role", "ops", "rbac-wasmext-leader-election")), wantLeader)
		if roles := objs.ofKind("Role"); len(roles) != 1 {
			t.Errorf("Roles %s; want only the leader election Role", roles)
		}
	})
	t.Run("secretNamespaces", func(t *testing.T) {
		objs := render(t, "rbac", "ops", "--set", "secretNamespaces={shop,pay}")
		expectGrants(t, "manager ClusterRole", rules(t, objs.get(t, "ClusterRole", "", "rbac-wasmext-manager")), wantNoSecrets)
		for _, ns := range []string{"shop", "pay"} {
			expectGrants(t, "Role in "+ns, rules(t, objs.get(t, "Role", ns, "rbac-wasmext-secrets")), wantSecrets)
			var rb rbacv1.RoleBinding
			typed(t, objs.get(t, "RoleBinding", ns, "rbac-wasmext-secrets"), &rb)
			wantSubject := rbacv1.Subject{Kind: "ServiceAccount", Name: "rbac-wasmext", Namespace: "ops"}
			if rb.RoleRef.Name != "rbac-wasmext-secrets" || len(rb.Subjects) != 1 || rb.Subjects[0] != wantSubject {
				t.Errorf("RoleBinding %s/%s binds %v to %v; want Role rbac-wasmext-secrets to %v", ns, rb.Name, rb.Subjects, rb.RoleRef, wantSubject)
			}
		}
		for _, cr := range objs.ofKind("ClusterRole") {
			for _, g := range grants(rules(t, cr)) {
				if isSecret(g) {
					t.Errorf("ClusterRole %s grants %v with secretNamespaces set", cr.GetName(), g)
				}
			}
		}
	})
}

func expectGrants(t *testing.T, what string, rules []rbacv1.PolicyRule, want []grant) {
	t.Helper()
	if got := grants(rules); !slices.Equal(got, want) {
		t.Errorf("%s grants\n%v\nwant\n%v", what, got, want)
	}
}

// TestMetricsReaderRole: with secure metrics, the ClusterRole a scraper is bound to allows only
// `get` on /metrics; without them there is none.
func TestMetricsReaderRole(t *testing.T) {
	objs := render(t, "metrics", "ops")
	expectGrants(t, "metrics reader", rules(t, objs.get(t, "ClusterRole", "", "metrics-wasmext-metrics-reader")),
		[]grant{{url: "/metrics", verb: "get"}})
	for _, cr := range render(t, "metrics", "ops", "--set", "metrics.secure=false").ofKind("ClusterRole") {
		if cr.GetName() != "metrics-wasmext-manager" {
			t.Errorf("ClusterRole %s rendered with metrics.secure=false", cr.GetName())
		}
	}
}
