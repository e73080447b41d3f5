package testenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/wasmext/wasmext/internal/testenv/ci"
)

// TestStart starts the real control plane and checks that our CRD and Istio's are served,
// that skipped Istio CRDs are left out, and that the kubeconfig file is written.
func TestStart(t *testing.T) {
	env, err := Start(Options{SkipIstioCRDs: []string{CRDTrafficExtension}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})

	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, name := range []string{"wasmextensions.wasmext.io", CRDWasmPlugin, CRDEnvoyFilter} {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			t.Errorf("CRD %s: %v", name, err)
			continue
		}
		if !established(crd) {
			t.Errorf("CRD %s is not Established: %+v", name, crd.Status.Conditions)
		}
	}
	err = c.Get(ctx, client.ObjectKey{Name: CRDTrafficExtension}, &apiextensionsv1.CustomResourceDefinition{})
	if err == nil {
		t.Errorf("CRD %s was installed although it is in SkipIstioCRDs", CRDTrafficExtension)
	}

	if fi, err := os.Stat(env.Kubeconfig); err != nil || fi.Size() == 0 {
		t.Errorf("kubeconfig %q not written: %v", env.Kubeconfig, err)
	}

	// The sample in config/samples must pass the CRD's validation (server-side dry run).
	b, err := os.ReadFile(filepath.Join(env.RepoRoot, "config", "samples", "wasmext_v1alpha1_wasmextension.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sample := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &sample.Object); err != nil {
		t.Fatal(err)
	}
	sample.SetNamespace("default")
	if err := c.Create(ctx, sample, client.DryRunAll); err != nil {
		t.Errorf("sample %s is rejected by the API server: %v", sample.GetName(), err)
	}

	t.Run("config/default", func(t *testing.T) { testDeployConfig(ctx, t, env, c) })
}

// testDeployConfig renders config/default with kubectl kustomize and has the API server validate
// every object (server-side dry run), through the kubeconfig file Start wrote.
func testDeployConfig(ctx context.Context, t *testing.T, env *Env, c client.Client) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		ci.Skipf(t, "kubectl not on PATH")
	}
	out, err := exec.CommandContext(ctx, kubectl, "kustomize", filepath.Join(env.RepoRoot, "config", "default")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize config/default: %v", err)
	}
	// Namespaced objects cannot be dry-run into a namespace that is itself only dry-run.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "wasmext-system"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	apply := exec.CommandContext(ctx, kubectl, "--kubeconfig", env.Kubeconfig, "apply",
		"--server-side", "--dry-run=server", "-f", "-")
	apply.Stdin = bytes.NewReader(out)
	if b, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply --dry-run=server config/default: %v\n%s", err, b)
	}
}

func TestSkipUnknownCRD(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := istioCRDs(root, []string{"nosuch.example.com"}); err == nil {
		t.Fatal("want an error for an unknown CRD name in SkipIstioCRDs")
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}
