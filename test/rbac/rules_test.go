package rbac

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// perm is one permission of a rendered role: a verb on a resource (with its
// subresource, e.g. "wasmextensions/status") of an API group, granted by a
// ClusterRole or by a Role of the operator's namespace.
type perm struct {
	Role     string // "ClusterRole" or "Role"
	Group    string
	Resource string
	Verb     string
}

func (p perm) String() string {
	return fmt.Sprintf("%s: %s %s", p.Role, p.Verb, groupResource(p.Group, p.Resource))
}

// groupResource spells a resource as kubectl does: "secrets",
// "wasmplugins.extensions.istio.io", "wasmextensions.wasmext.io/status".
func groupResource(group, resource string) string {
	res, sub, _ := strings.Cut(resource, "/")
	if group != "" {
		res += "." + group
	}
	if sub != "" {
		res += "/" + sub
	}
	return res
}

// expand lists every (group, resource, verb) a rule grants, in the rule's
// order. Rules this proof cannot reduce one permission at a time
// (wildcards, resourceNames, nonResourceURLs) are refused: the operator's
// roles must not need them.
func expand(role string, r rbacv1.PolicyRule) ([]perm, error) {
	if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
		return nil, fmt.Errorf("%s rule %v: resourceNames and nonResourceURLs are not expected in the operator's roles", role, r)
	}
	var out []perm
	for _, g := range r.APIGroups {
		for _, res := range r.Resources {
			for _, v := range r.Verbs {
				if g == "*" || res == "*" || v == "*" {
					return nil, fmt.Errorf("%s rule %v: a wildcard is not least privilege", role, r)
				}
				out = append(out, perm{Role: role, Group: g, Resource: res, Verb: v})
			}
		}
	}
	return out, nil
}

// expandRules expands every rule of a role.
func expandRules(role string, rules []rbacv1.PolicyRule) ([]perm, error) {
	var out []perm
	for _, r := range rules {
		ps, err := expand(role, r)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// collapse turns permissions back into rules, one per (group, resource),
// verbs in the order given: the same grant as the rules they came from.
func collapse(ps []perm) []rbacv1.PolicyRule {
	type key struct{ g, r string }
	var order []key
	verbs := map[key][]string{}
	for _, p := range ps {
		k := key{p.Group, p.Resource}
		if _, ok := verbs[k]; !ok {
			order = append(order, k)
		}
		if !slices.Contains(verbs[k], p.Verb) {
			verbs[k] = append(verbs[k], p.Verb)
		}
	}
	rules := make([]rbacv1.PolicyRule, 0, len(order))
	for _, k := range order {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{k.g}, Resources: []string{k.r}, Verbs: verbs[k]})
	}
	return rules
}

// withoutPerm returns rules granting everything rules grant but p (p.Role
// is ignored: the caller picks the role).
func withoutPerm(role string, rules []rbacv1.PolicyRule, p perm) ([]rbacv1.PolicyRule, error) {
	ps, err := expandRules(role, rules)
	if err != nil {
		return nil, err
	}
	kept := ps[:0]
	for _, q := range ps {
		if q.Group != p.Group || q.Resource != p.Resource || q.Verb != p.Verb {
			kept = append(kept, q)
		}
	}
	return collapse(kept), nil
}

// refusalPattern matches the message of a 403 from the RBAC authorizer (and
// from admission plugins that ask it, e.g. OwnerReferencesPermissionEnforcement):
// `User "u" cannot list resource "secrets" in API group "" at the cluster scope`.
var refusalPattern = regexp.MustCompile(`cannot ([a-z]+) resource "([^"]+)" in API group "([^"]*)"`)

// blockingOwnerRefusal is OwnerReferencesPermissionEnforcement refusing a
// blocking owner reference; its message does not name the owner's resource.
const blockingOwnerRefusal = "cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on"

// anyFinalizers stands for `update` on the finalizers of whichever owner
// kind a blockingOwnerRefusal was about (the operator's objects have one:
// WasmExtension).
var anyFinalizers = perm{Verb: "update", Group: "*", Resource: "*/finalizers"}

// parseRefusals returns the permissions a 403 message says were missing
// (Role is left empty: the message does not say which role should grant it).
func parseRefusals(msg string) []perm {
	var out []perm
	for _, m := range refusalPattern.FindAllStringSubmatch(msg, -1) {
		out = append(out, perm{Verb: m[1], Resource: m[2], Group: m[3]})
	}
	if len(out) == 0 && strings.Contains(msg, blockingOwnerRefusal) {
		out = append(out, anyFinalizers)
	}
	return out
}

// sameGrant says whether refused names the permission p.
func sameGrant(p, refused perm) bool {
	if refused == anyFinalizers {
		return p.Verb == "update" && strings.HasSuffix(p.Resource, "/finalizers")
	}
	return p.Group == refused.Group && p.Resource == refused.Resource && p.Verb == refused.Verb
}
