package check

import (
	"bytes"
	"encoding/json"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/wasmext/wasmext/internal/render"
)

// ParsePluginConfig reads a pluginConfig file as a user would write it
// under spec.pluginConfig, in JSON or YAML, and returns it as the API
// server would store it. JSON is kept as written; YAML is converted as
// kubectl converts a manifest. The bytes the module then receives are
// render.PluginConfiguration's, as in the operator.
func ParsePluginConfig(b []byte) (*apiextensionsv1.JSON, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, nil
	}
	if !json.Valid(b) {
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			return nil, fmt.Errorf("%w: pluginConfig is neither JSON nor YAML: %v", render.ErrInvalidSpec, err)
		}
		b = j
	}
	if b[0] != '{' && string(b) != "null" {
		return nil, fmt.Errorf("%w: pluginConfig must be an object (spec.pluginConfig is type: object)", render.ErrInvalidSpec)
	}
	return &apiextensionsv1.JSON{Raw: b}, nil
}
