package render

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/wasmext/wasmext/internal/testenv/ci"
)

// crdSchema is what the API server checks a custom resource against.
type crdSchema struct {
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
	cel        *cel.Validator
}

// TestGoldenOutputsPassIstioSchemas checks every rendered golden object
// against the schema of Istio's own CRD (from the istio.io/api module), as
// the API server would on create: OpenAPI validation, CEL rules, and no
// field that pruning would silently drop. envtest does the same later, with
// fewer cases.
func TestGoldenOutputsPassIstioSchemas(t *testing.T) {
	schemas := istioSchemas(t)
	outputs, _ := filepath.Glob("testdata/*.out.yaml")
	checked := 0
	for _, out := range outputs {
		raw, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		objs, ok := doc.([]any)
		if !ok {
			objs = []any{doc}
		}
		for _, o := range objs {
			obj := o.(map[string]any)
			if _, isErr := obj["error"]; isErr {
				continue
			}
			key := obj["apiVersion"].(string) + "/" + obj["kind"].(string)
			s := schemas[key]
			if s == nil {
				t.Fatalf("%s: no Istio CRD for %s", out, key)
			}
			for _, msg := range s.check(obj) {
				t.Errorf("%s: %s", out, msg)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no rendered object checked")
	}
}

func (s *crdSchema) check(obj map[string]any) []string {
	var msgs []string
	for _, e := range validation.ValidateCustomResource(nil, obj, s.validator) {
		msgs = append(msgs, e.Error())
	}
	errs, _ := s.cel.Validate(context.Background(), nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	pruned := pruning.PruneWithOptions(deepCopyJSON(obj), s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, p := range pruned {
		msgs = append(msgs, "field unknown to the CRD, the API server would drop it: "+p)
	}
	return msgs
}

func deepCopyJSON(obj map[string]any) map[string]any {
	b, _ := yaml.Marshal(obj)
	var out map[string]any
	_ = yaml.Unmarshal(b, &out)
	return out
}

// istioSchemas reads the WasmPlugin, TrafficExtension and EnvoyFilter CRDs
// of the istio.io/api module in the build list, keyed by apiVersion/kind.
func istioSchemas(t *testing.T) map[string]*crdSchema {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/api").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		ci.Skipf(t, "istio.io/api is not in the module cache: %v", err)
	}
	f, err := os.Open(filepath.Join(dir, "kubernetes", "customresourcedefinitions.gen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schemas := map[string]*crdSchema{}
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := dec.Decode(crd); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		switch crd.Spec.Names.Kind {
		case "WasmPlugin", "TrafficExtension", "EnvoyFilter":
		default:
			continue
		}
		for _, v := range crd.Spec.Versions {
			schemas[crd.Spec.Group+"/"+v.Name+"/"+crd.Spec.Names.Kind] = newCRDSchema(t, v.Schema)
		}
	}
	return schemas
}

func newCRDSchema(t *testing.T, v *apiextensionsv1.CustomResourceValidation) *crdSchema {
	t.Helper()
	var internal apiextensions.CustomResourceValidation
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v, &internal, nil); err != nil {
		t.Fatal(err)
	}
	structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		t.Fatal(err)
	}
	validator, _, err := validation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		t.Fatal(err)
	}
	return &crdSchema{structural: structural, validator: validator, cel: cel.NewValidator(structural, true, celconfig.PerCallLimit)}
}
