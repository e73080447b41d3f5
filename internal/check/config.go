package check

import (
	"bytes"
	"encoding/json"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/wasmext/wasmext/internal/render"
)

// PluginConfigBytes returns the bytes a proxy hands the module's
// proxy_on_configure for spec.pluginConfig raw: the user's JSON object,
// compacted (every number keeps its digits, as an EnvoyFilter passes it
// on). No pluginConfig, null and the empty object {} give nil: Istio sends
// a plugin a zero-length configuration for all three (see package render,
// "Delivery and plugin configuration"). Anything but a JSON object is an
// error wrapping render.ErrInvalidSpec.
//
// For output WasmPlugin or TrafficExtension istiod re-encodes the object
// from a protobuf Struct, so key order, spacing and numbers beyond 2^53 may
// differ from these bytes; the content a JSON parser sees is the same.
func PluginConfigBytes(raw *apiextensionsv1.JSON) ([]byte, error) {
	if raw == nil {
		return nil, nil
	}
	b := bytes.TrimSpace(raw.Raw)
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("%w: pluginConfig must be a JSON object: %v", render.ErrInvalidSpec, err)
	}
	if len(obj) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("%w: pluginConfig: %v", render.ErrInvalidSpec, err)
	}
	return buf.Bytes(), nil
}

// ParsePluginConfig reads a pluginConfig file as a user would write it
// under spec.pluginConfig, in JSON or YAML, and returns it as the API
// server would store it. JSON is kept as written; YAML is converted as
// kubectl converts a manifest.
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
