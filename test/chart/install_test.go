package chart

import (
	"bytes"
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const crdName = "wasmextensions.wasmext.io"

// TestInstallUpgradeUninstall runs helm against the apiserver as a user would: install creates
// the CRD from the chart's crds/, upgrade keeps the module server key (lookup) while it changes
// the Deployment, and uninstall removes the release's objects but keeps the CRD.
func TestInstallUpgradeUninstall(t *testing.T) {
	needHelm(t)
	ctx := context.Background()
	const ns, release = "inst-system", "inst"
	deleteCRD(ctx, t) // envtest installed it; the chart must bring its own
	mustHelm(t, "install", release, chart, "--namespace", ns, "--create-namespace")
	expectCRD(ctx, t)

	secret := client.ObjectKey{Namespace: ns, Name: "inst-wasmext-module-server"}
	key := moduleKey(ctx, t, secret)
	mustHelm(t, "upgrade", release, chart, "--namespace", ns, "--set", "replicaCount=3")
	var d appsv1.Deployment
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "inst-wasmext"}, &d); err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas %d after helm upgrade --set replicaCount=3", *d.Spec.Replicas)
	}
	if after := moduleKey(ctx, t, secret); !bytes.Equal(after, key) {
		t.Error("helm upgrade changed the module server key; URLs already rendered would stop resolving")
	}

	mustHelm(t, "uninstall", release, "--namespace", ns)
	for _, obj := range []client.Object{
		&appsv1.Deployment{}, &corev1.Secret{}, &corev1.Service{}, &corev1.ServiceAccount{},
		&rbacv1.ClusterRole{}, &rbacv1.ClusterRoleBinding{},
	} {
		name := "inst-wasmext"
		switch obj.(type) {
		case *corev1.Secret:
			name = secret.Name
		case *corev1.Service:
			name = "inst-wasmext-modules"
		case *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding:
			name = "inst-wasmext-manager"
		}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s after helm uninstall: %v; want NotFound", obj, name, err)
		}
	}
	expectCRD(ctx, t)
}

func moduleKey(ctx context.Context, t *testing.T, key client.ObjectKey) []byte {
	t.Helper()
	var s corev1.Secret
	if err := k8s.Get(ctx, key, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Data["key"]) < 32 {
		t.Fatalf("Secret %s holds a key of %d bytes; want at least 32", key, len(s.Data["key"]))
	}
	return s.Data["key"]
}

// deleteCRD deletes the WasmExtension CRD and waits until the apiserver has removed it.
func deleteCRD(ctx context.Context, t *testing.T) {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	crd.Name = crdName
	if err := k8s.Delete(ctx, crd); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		err := k8s.Get(ctx, client.ObjectKey{Name: crdName}, crd)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		t.Fatalf("waiting for CRD %s to go: %v", crdName, err)
	}
}

// expectCRD fails t unless the WasmExtension CRD exists and is Established.
func expectCRD(ctx context.Context, t *testing.T) {
	t.Helper()
	var crd apiextensionsv1.CustomResourceDefinition
	if err := k8s.Get(ctx, client.ObjectKey{Name: crdName}, &crd); err != nil {
		t.Fatalf("CRD %s: %v", crdName, err)
	}
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return
		}
	}
	t.Errorf("CRD %s is not Established: %v", crdName, crd.Status.Conditions)
}
