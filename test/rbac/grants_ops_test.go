package rbac

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func clusterRoleLabel(r *rbacv1.ClusterRole) string { return "ClusterRole " + r.Name }
func roleLabel(r *rbacv1.Role) string               { return "Role " + r.Namespace + "/" + r.Name }

// permissions lists every permission of every bound role, expanded.
func (g *grants) permissions() ([]perm, error) {
	var out []perm
	for _, r := range g.clusterRoles {
		ps, err := expandRules(clusterRoleLabel(r), r.Rules)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	for _, r := range g.roles {
		ps, err := expandRules(roleLabel(r), r.Rules)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// copyFor returns a deep copy whose object names end in suffix (so a run
// never meets the authorizer's view of an earlier run), references included,
// with p removed from its role when p is not nil.
func (g *grants) copyFor(suffix string, p *perm) (*grants, error) {
	c := &grants{source: g.source, sa: g.sa.DeepCopy()}
	c.sa.Name += suffix
	for _, r := range g.clusterRoles {
		r = r.DeepCopy()
		if err := removeFrom(clusterRoleLabel(r), &r.Rules, p); err != nil {
			return nil, err
		}
		r.Name += suffix
		c.clusterRoles = append(c.clusterRoles, r)
	}
	for _, r := range g.roles {
		r = r.DeepCopy()
		if err := removeFrom(roleLabel(r), &r.Rules, p); err != nil {
			return nil, err
		}
		r.Name += suffix
		c.roles = append(c.roles, r)
	}
	for _, b := range g.crbs {
		b = b.DeepCopy()
		b.Name, b.RoleRef.Name = b.Name+suffix, b.RoleRef.Name+suffix
		b.Subjects = renameSA(b.Subjects, g.sa.Name, suffix)
		c.crbs = append(c.crbs, b)
	}
	for _, b := range g.rbs {
		b = b.DeepCopy()
		b.Name, b.RoleRef.Name = b.Name+suffix, b.RoleRef.Name+suffix
		b.Subjects = renameSA(b.Subjects, g.sa.Name, suffix)
		c.rbs = append(c.rbs, b)
	}
	return c, nil
}

func removeFrom(label string, rules *[]rbacv1.PolicyRule, p *perm) error {
	if p == nil || p.Role != label {
		return nil
	}
	kept, err := withoutPerm(label, *rules, *p)
	*rules = kept
	return err
}

func renameSA(subjects []rbacv1.Subject, name, suffix string) []rbacv1.Subject {
	for i := range subjects {
		if subjects[i].Kind == rbacv1.ServiceAccountKind && subjects[i].Name == name {
			subjects[i].Name += suffix
		}
	}
	return subjects
}

// restore gives the roles of a copy made by copyFor the rules of base back.
func (g *grants) restore(ctx context.Context, c client.Client, base *grants) error {
	for i, r := range g.clusterRoles {
		r.Rules = base.clusterRoles[i].Rules
		if err := c.Update(ctx, r); err != nil {
			return err
		}
	}
	for i, r := range g.roles {
		r.Rules = base.roles[i].Rules
		if err := c.Update(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// user is the name the apiserver gives the ServiceAccount's requests.
func (g *grants) user() string {
	return "system:serviceaccount:" + g.sa.Namespace + ":" + g.sa.Name
}

func (g *grants) objects() []client.Object {
	objs := []client.Object{g.sa}
	for _, r := range g.clusterRoles {
		objs = append(objs, r)
	}
	for _, r := range g.roles {
		objs = append(objs, r)
	}
	for _, b := range g.crbs {
		objs = append(objs, b)
	}
	for _, b := range g.rbs {
		objs = append(objs, b)
	}
	return objs
}

// create creates the objects as the administrator.
func (g *grants) create(ctx context.Context, c client.Client) error {
	for _, o := range g.objects() {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// remove deletes the objects.
func (g *grants) remove(ctx context.Context, c client.Client) error {
	var errs []error
	for _, o := range g.objects() {
		errs = append(errs, client.IgnoreNotFound(c.Delete(ctx, o)))
	}
	return errors.Join(errs...)
}

// waitEffective waits until the authorizer answers for these grants: the
// first permission of each role allowed, removed (if any) denied. The RBAC
// authorizer reads roles and bindings from informers, so a manager started
// right after create could otherwise run with none of them.
func (g *grants) waitEffective(ctx context.Context, c client.Client, all []perm, removed *perm) error {
	checks := map[perm]bool{}
	for _, p := range all {
		if removed == nil || p != *removed {
			if _, seen := firstOf(checks, p.Role); !seen {
				checks[p] = true
			}
		}
	}
	if removed != nil {
		checks[*removed] = false
	}
	var last error
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		for p, want := range checks {
			allowed, err := g.allowed(ctx, c, p)
			if err != nil {
				return false, err
			}
			if allowed != want {
				last = fmt.Errorf("%s allowed=%v, want %v", p, allowed, want)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("RBAC of %s not in effect: %w (last: %v)", g.user(), err, last)
	}
	return nil
}

func firstOf(checks map[perm]bool, role string) (perm, bool) {
	for p := range checks {
		if p.Role == role {
			return p, true
		}
	}
	return perm{}, false
}

// allowed asks the apiserver (SubjectAccessReview) whether the ServiceAccount may do p.
func (g *grants) allowed(ctx context.Context, c client.Client, p perm) (bool, error) {
	res, sub, _ := strings.Cut(p.Resource, "/")
	ns := "" // a ClusterRole's permission, checked cluster-wide
	if rest, ok := strings.CutPrefix(p.Role, "Role "); ok {
		ns, _, _ = strings.Cut(rest, "/")
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   g.user(),
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + g.sa.Namespace, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: p.Verb, Group: p.Group, Resource: res, Subresource: sub,
		},
	}}
	if err := c.Create(ctx, sar); err != nil {
		return false, err
	}
	return sar.Status.Allowed, nil
}
