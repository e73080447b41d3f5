package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
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
