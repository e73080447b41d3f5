package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wasmext/wasmext/internal/testenv"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// applySamples creates every object of the YAML files in the samples
// directory (kustomization.yaml aside) in namespace default, with the sample
// registry host replaced by the demo's.
func (d *demo) applySamples(ctx context.Context) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(d.o.samples, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		raw = bytes.ReplaceAll(raw, []byte(sampleHost), []byte(d.reg.host))
		objs, err := testenv.DecodeObjects(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, u := range objs {
			if u.GetNamespace() == "" {
				u.SetNamespace("default")
			}
			if err := d.c.Create(ctx, u); err != nil {
				return nil, fmt.Errorf("creating %s %s/%s from %s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), rel(d.root, f), err)
			}
			if u.GetKind() == "WasmExtension" {
				d.created = append(d.created, client.ObjectKeyFromObject(u))
			}
			img, _, _ := unstructured.NestedString(u.Object, "spec", "module", "image")
			names = append(names, fmt.Sprintf("%s %s/%s (image %s)", u.GetKind(), u.GetNamespace(), u.GetName(), img))
		}
	}
	if len(d.created) == 0 {
		return nil, fmt.Errorf("no WasmExtension in %s", d.o.samples)
	}
	return names, nil
}

// waitCRDSettled waits until the WasmExtension CRD has been Established for
// 3s: the API server makes every create of a custom resource sleep 2s while
// its CRD is less than 2s established (the condition's time has a resolution
// of 1s), which would show up as the operator's time.
func (d *demo) waitCRDSettled(ctx context.Context) (time.Duration, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := d.c.Get(ctx, client.ObjectKey{Name: "wasmextensions." + v1alpha1.GroupVersion.Group}, crd); err != nil {
		return 0, fmt.Errorf("reading the WasmExtension CRD: %w", err)
	}
	for _, c := range crd.Status.Conditions {
		if c.Type != apiextensionsv1.Established || c.Status != apiextensionsv1.ConditionTrue {
			continue
		}
		wait := time.Until(c.LastTransitionTime.Add(3 * time.Second))
		if wait <= 0 {
			return 0, nil
		}
		select {
		case <-time.After(wait):
			return wait, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return 0, nil
}

// waitReady polls the created extensions until all are Ready for their
// current generation. A Stalled extension fails at once: it needs a person.
func (d *demo) waitReady(ctx context.Context) ([]*v1alpha1.WasmExtension, error) {
	deadline := time.Now().Add(d.o.timeout)
	for {
		var exts []*v1alpha1.WasmExtension
		ready := 0
		for _, k := range d.created {
			ext := &v1alpha1.WasmExtension{}
			if err := d.c.Get(ctx, k, ext); err != nil {
				return nil, err
			}
			exts = append(exts, ext)
			if isReady(ext) {
				ready++
			}
			if c := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
				return nil, fmt.Errorf("WasmExtension %s is Stalled: %s: %s\n%s", k, c.Reason, c.Message, strings.TrimRight(conditionsTable(ext), "\n"))
			}
		}
		if ready == len(exts) {
			return exts, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-d.op.Exited():
			return nil, errors.New("the operator exited")
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, ext := range exts {
				fmt.Fprintf(&b, "WasmExtension %s/%s:\n%s", ext.Namespace, ext.Name, conditionsTable(ext))
			}
			return nil, fmt.Errorf("%d of %d WasmExtensions not Ready after %s\n%s", len(exts)-ready, len(exts), d.o.timeout, b.String())
		}
	}
}

func isReady(ext *v1alpha1.WasmExtension) bool {
	c := meta.FindStatusCondition(ext.Status.Conditions, v1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == ext.Generation &&
		ext.Status.ObservedGeneration == ext.Generation
}
