package rbac

import (
	"reflect"
	"strings"
	"testing"

	"github.com/wasmext/wasmext/internal/testenv"

	rbacv1 "k8s.io/api/rbac/v1"
)

func TestExpandAndWithout(t *testing.T) {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{"extensions.istio.io"}, Resources: []string{"trafficextensions", "wasmplugins"}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}},
	}
	ps, err := expandRules("ClusterRole x", rules)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 5 || ps[0] != (perm{"ClusterRole x", "extensions.istio.io", "trafficextensions", "get"}) {
		t.Fatalf("expanded %v", ps)
	}
	got, err := withoutPerm("ClusterRole x", rules, perm{Group: "extensions.istio.io", Resource: "wasmplugins", Verb: "patch"})
	if err != nil {
		t.Fatal(err)
	}
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{"extensions.istio.io"}, Resources: []string{"trafficextensions"}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{"extensions.istio.io"}, Resources: []string{"wasmplugins"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("without wasmplugins patch:\n got %v\nwant %v", got, want)
	}
	gone, err := withoutPerm("ClusterRole x", rules[1:], perm{Group: "", Resource: "secrets", Verb: "get"})
	if err != nil || len(gone) != 0 {
		t.Fatalf("removing the only permission left %v (%v)", gone, err)
	}
}

func TestExpandRefusesWildcardsAndNames(t *testing.T) {
	for _, r := range []rbacv1.PolicyRule{
		{APIGroups: []string{"*"}, Resources: []string{"secrets"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"*"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{"a"}},
	} {
		if _, err := expand("Role x", r); err == nil {
			t.Errorf("rule %v expanded without error", r)
		}
	}
}

func TestParseRefusals(t *testing.T) {
	for msg, want := range map[string]perm{
		`secrets is forbidden: User "system:serviceaccount:wasmext-system:wasmext-r1" cannot list resource "secrets" in API group "" at the cluster scope`:                                                                                                                             {Verb: "list", Resource: "secrets"},
		`wasmplugins.extensions.istio.io "pulled" is forbidden: cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on: User "u" cannot update resource "wasmextensions/finalizers" in API group "wasmext.io" in the namespace "rbac-r3"`: {Verb: "update", Resource: "wasmextensions/finalizers", Group: "wasmext.io"},
	} {
		got := parseRefusals(msg)
		if len(got) != 1 || got[0] != want {
			t.Errorf("parseRefusals(%q) = %v, want %v", msg, got, want)
		}
	}
	blocked := parseRefusals(`envoyfilters.networking.istio.io "sw-ef" is forbidden: ` + blockingOwnerRefusal + `: , <nil>`)
	finalizers := perm{Role: "ClusterRole m", Group: "wasmext.io", Resource: "wasmextensions/finalizers", Verb: "update"}
	if len(blocked) != 1 || !sameGrant(finalizers, blocked[0]) || sameGrant(perm{Verb: "update", Resource: "wasmextensions"}, blocked[0]) {
		t.Errorf("blocking owner refusal parsed as %v", blocked)
	}
	if got := parseRefusals("connection refused"); len(got) != 0 {
		t.Errorf("parsed %v from a message without a refusal", got)
	}
}

func TestSelectGrantsKeepsOnlyTheOperatorsRoles(t *testing.T) {
	docs := `
apiVersion: v1
kind: ServiceAccount
metadata: {name: op, namespace: ns}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: manager}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: metrics-reader}
rules: [{nonResourceURLs: [/metrics], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: manager}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: manager}
subjects: [{kind: ServiceAccount, name: op, namespace: ns}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: le, namespace: ns}
rules: [{apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, update]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: le, namespace: ns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: le}
subjects: [{kind: ServiceAccount, name: op, namespace: ns}]
`
	objs, err := testenv.DecodeObjects(strings.NewReader(docs))
	if err != nil {
		t.Fatal(err)
	}
	g, err := selectGrants(objs, "test")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := g.permissions()
	if err != nil {
		t.Fatal(err)
	}
	if len(g.clusterRoles) != 1 || g.clusterRoles[0].Name != "manager" || len(ps) != 3 {
		t.Fatalf("selected %d ClusterRoles, permissions %v", len(g.clusterRoles), ps)
	}
	c, err := g.copyFor("-r9", &ps[2])
	if err != nil {
		t.Fatal(err)
	}
	if c.user() != "system:serviceaccount:ns:op-r9" || c.rbs[0].Subjects[0].Name != "op-r9" || c.rbs[0].RoleRef.Name != "le-r9" {
		t.Fatalf("copy not renamed: %s %+v", c.user(), c.rbs[0])
	}
	if got := c.roles[0].Rules; len(got) != 1 || !reflect.DeepEqual(got[0].Verbs, []string{"get"}) {
		t.Fatalf("Role without leases update: %v", got)
	}
	if len(g.roles[0].Rules[0].Verbs) != 2 {
		t.Fatalf("copyFor changed the original: %v", g.roles[0].Rules)
	}
}
