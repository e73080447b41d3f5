package rbac

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/wasmext/wasmext/internal/testenv"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// grants are the RBAC objects that give the operator's ServiceAccount its
// permissions: the roles bound to it and their bindings.
type grants struct {
	source       string // where they were rendered from
	sa           *corev1.ServiceAccount
	clusterRoles []*rbacv1.ClusterRole
	roles        []*rbacv1.Role
	crbs         []*rbacv1.ClusterRoleBinding
	rbs          []*rbacv1.RoleBinding
}

// chartPaths returns helm ($HELM_BIN, as `make test` sets it, else
// bin/helm) and the chart directory ($WASMEXT_RBAC_CHART, else
// charts/wasmext), and whether each exists.
func chartPaths(root string) (helm, chart string, haveHelm, haveChart bool) {
	helm = os.Getenv("HELM_BIN")
	if helm == "" {
		helm = filepath.Join(root, "bin", "helm")
	}
	chart = os.Getenv("WASMEXT_RBAC_CHART")
	if chart == "" {
		chart = filepath.Join(root, "charts", "wasmext")
	}
	_, errHelm := os.Stat(helm)
	_, errChart := os.Stat(filepath.Join(chart, "Chart.yaml"))
	return helm, chart, errHelm == nil, errChart == nil
}

// loadGrants renders the chart's RBAC (`helm template` with its default
// values, release namespace ns) when both helm and the chart exist, else
// reads config/rbac with its namespace set to ns.
func loadGrants(root, ns string) (*grants, error) {
	helm, chart, haveHelm, haveChart := chartPaths(root)
	if !haveHelm || !haveChart {
		objs, err := configRBAC(filepath.Join(root, "config", "rbac"), ns)
		if err != nil {
			return nil, err
		}
		return selectGrants(objs, "config/rbac (no chart or no helm)")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(helm, "template", "wasmext", chart, "--namespace", ns)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("helm template %s: %w: %s", chart, err, stderr.String())
	}
	objs, err := testenv.DecodeObjects(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("decoding helm template output: %w", err)
	}
	return selectGrants(objs, "helm template "+chart+" (default values)")
}

// configRBAC reads the files config/rbac/kustomization.yaml lists and puts
// the namespaced objects, and the binding subjects, in ns.
func configRBAC(dir, ns string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("config/rbac/kustomization.yaml: %w", err)
	}
	var objs []*unstructured.Unstructured
	for _, f := range k.Resources {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		docs, err := testenv.DecodeObjects(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("config/rbac/%s: %w", f, err)
		}
		objs = append(objs, docs...)
	}
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" && o.GetKind() != "ClusterRoleBinding" {
			o.SetNamespace(ns)
		}
		if subjects, ok, _ := unstructured.NestedSlice(o.Object, "subjects"); ok {
			for _, s := range subjects {
				s.(map[string]any)["namespace"] = ns
			}
			_ = unstructured.SetNestedSlice(o.Object, subjects, "subjects")
		}
	}
	return objs, nil
}

// selectGrants keeps the one ServiceAccount, the bindings naming it and the
// roles they bind (a role bound to someone else, such as the chart's
// metrics-reader for scrapers, is not the operator's).
func selectGrants(objs []*unstructured.Unstructured, source string) (*grants, error) {
	g := &grants{source: source}
	for _, o := range objs {
		if o.GetKind() == "ServiceAccount" {
			if g.sa != nil {
				return nil, fmt.Errorf("%s: more than one ServiceAccount (%s, %s)", source, g.sa.Name, o.GetName())
			}
			g.sa = &corev1.ServiceAccount{}
			if err := fromUnstructured(o, g.sa); err != nil {
				return nil, err
			}
		}
	}
	if g.sa == nil {
		return nil, fmt.Errorf("%s: no ServiceAccount", source)
	}
	if err := g.selectBindings(objs); err != nil {
		return nil, err
	}
	if err := g.selectRoles(objs); err != nil {
		return nil, err
	}
	if len(g.clusterRoles)+len(g.roles) == 0 {
		return nil, fmt.Errorf("%s: no role is bound to ServiceAccount %s", source, g.sa.Name)
	}
	return g, nil
}

func (g *grants) namesSA(subjects []rbacv1.Subject) bool {
	for _, s := range subjects {
		if s.Kind == rbacv1.ServiceAccountKind && s.Name == g.sa.Name && s.Namespace == g.sa.Namespace {
			return true
		}
	}
	return false
}

func (g *grants) selectBindings(objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterRoleBinding":
			b := &rbacv1.ClusterRoleBinding{}
			if err := fromUnstructured(o, b); err != nil {
				return err
			}
			if g.namesSA(b.Subjects) {
				g.crbs = append(g.crbs, b)
			}
		case "RoleBinding":
			b := &rbacv1.RoleBinding{}
			if err := fromUnstructured(o, b); err != nil {
				return err
			}
			if g.namesSA(b.Subjects) {
				g.rbs = append(g.rbs, b)
			}
		}
	}
	return nil
}

// selectRoles keeps the roles the selected bindings refer to; a binding to
// a role the source does not define is an error.
func (g *grants) selectRoles(objs []*unstructured.Unstructured) error {
	bound := map[string]bool{} // "Kind ns/name"
	for _, b := range g.crbs {
		bound[b.RoleRef.Kind+" /"+b.RoleRef.Name] = true
	}
	for _, b := range g.rbs {
		ns := b.Namespace
		if b.RoleRef.Kind == "ClusterRole" {
			ns = ""
		}
		bound[b.RoleRef.Kind+" "+ns+"/"+b.RoleRef.Name] = true
	}
	for _, o := range objs {
		k := o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
		if !bound[k] {
			continue
		}
		delete(bound, k)
		var err error
		switch o.GetKind() {
		case "ClusterRole":
			r := &rbacv1.ClusterRole{}
			err = fromUnstructured(o, r)
			g.clusterRoles = append(g.clusterRoles, r)
		case "Role":
			r := &rbacv1.Role{}
			err = fromUnstructured(o, r)
			g.roles = append(g.roles, r)
		}
		if err != nil {
			return err
		}
	}
	for k := range bound {
		return fmt.Errorf("%s: a binding of ServiceAccount %s refers to %s, which it does not define", g.source, g.sa.Name, k)
	}
	return nil
}

func fromUnstructured(u *unstructured.Unstructured, into any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return nil
}
