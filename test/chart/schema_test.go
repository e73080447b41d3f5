package chart

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// openObjects are the schema paths left open on purpose: Kubernetes' own affinity types, too
// large to restate, which the apiserver validates when the Deployment is created.
var openObjects = []string{
	"/properties/affinity/properties/nodeAffinity",
	"/properties/affinity/properties/podAffinity",
	"/properties/affinity/properties/podAntiAffinity",
}

// TestSchemaClosed: every object in values.schema.json says which keys it takes
// (additionalProperties false, or a schema every extra key must match), so that a misspelled key
// is refused wherever it is; and the schema is draft-07, as helm reads it.
func TestSchemaClosed(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chart, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	if s := schema["$schema"]; s != "http://json-schema.org/draft-07/schema#" {
		t.Errorf("$schema %v; want draft-07", s)
	}
	var objects int
	walkSchema("", schema, func(path string, node map[string]any) {
		if node["type"] != "object" || slices.Contains(openObjects, path) {
			return
		}
		objects++
		if _, ok := node["additionalProperties"]; !ok || node["additionalProperties"] == true {
			t.Errorf("%s: an object without additionalProperties false (or a schema for extra keys)", path)
		}
	})
	if objects < 20 {
		t.Errorf("found %d object schemas; the walk missed most of values.schema.json", objects)
	}
}

// walkSchema calls visit for every JSON object in the tree under node, with its JSON pointer.
func walkSchema(path string, node any, visit func(string, map[string]any)) {
	switch n := node.(type) {
	case map[string]any:
		visit(path, n)
		for k, v := range n {
			walkSchema(path+"/"+k, v, visit)
		}
	case []any:
		for i, v := range n {
			walkSchema(path+"/"+strconv.Itoa(i), v, visit)
		}
	}
}
