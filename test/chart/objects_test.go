package chart

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/wasmext/wasmext/internal/testenv"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// rendered are the objects of one `helm template`, in the order helm printed them.
type rendered []*unstructured.Unstructured

// render runs `helm template` for release in namespace with more helm args (--set, --values)
// and decodes its output.
func render(t *testing.T, release, namespace string, args ...string) rendered {
	t.Helper()
	out := mustHelm(t, append([]string{"template", release, chart, "--namespace", namespace}, args...)...)
	objs, err := testenv.DecodeObjects(strings.NewReader(out))
	if err != nil {
		t.Fatalf("decoding helm template output: %v\n%s", err, out)
	}
	return objs
}

// get returns the object of kind and name (in any namespace), failing t when there is none.
func (r rendered) get(t *testing.T, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range r {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s/%s rendered; rendered: %s", kind, namespace, name, r)
	return nil
}

// ofKind returns the objects of kind.
func (r rendered) ofKind(kind string) rendered {
	var out rendered
	for _, o := range r {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func (r rendered) String() string {
	names := make([]string, 0, len(r))
	for _, o := range r {
		names = append(names, fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName()))
	}
	return strings.Join(names, ", ")
}

// typed converts o into out (a typed API object), failing t when it does not fit.
func typed(t *testing.T, o *unstructured.Unstructured, out any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, out, true); err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
}

// createAll creates every object in the apiserver, after the namespaces they live in, and
// fails t on the first the apiserver refuses. Cluster-scoped objects are named after the
// release, so every case of a test uses its own release name.
func createAll(t *testing.T, objs rendered) {
	t.Helper()
	ctx := context.Background()
	for _, ns := range objs.namespaces() {
		err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating namespace %s: %v", ns, err)
		}
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o.DeepCopy()); err != nil {
			t.Errorf("creating %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
}

// namespaces lists the namespaces of the objects, each once.
func (r rendered) namespaces() []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range r {
		if ns := o.GetNamespace(); ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	return out
}

// rules returns the rules of the ClusterRole or Role o.
func rules(t *testing.T, o *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	var role rbacv1.ClusterRole // a Role has the same rules field
	typed(t, o, &role)
	return role.Rules
}
