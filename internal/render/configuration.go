package render

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// PluginConfiguration returns the bytes a proxy hands the plugin's
// proxy_on_configure when spec is rendered as output kind, so the dry run
// configures the module with what it will really receive (see the package
// documentation on pluginConfig):
//
//   - EnvoyFilter: the user's JSON, compacted (configurationAny).
//   - WasmPlugin and TrafficExtension: the JSON of the google.protobuf.Struct
//     istiod builds (pilot/pkg/model/extensions.go buildPluginConfig: a
//     StringValue holding protomarshal.ToJSON of the Struct), so numbers are
//     doubles and keys are sorted, as the plugin will see them. Whitespace
//     may differ from istiod's; the values do not.
//
// No pluginConfig, null and {} give nil: the plugin sees zero bytes.
func PluginConfiguration(spec *v1alpha1.WasmExtensionSpec, kind v1alpha1.OutputKind) ([]byte, error) {
	obj, err := pluginConfigObject(spec.PluginConfig)
	if err != nil || obj == nil {
		return nil, err
	}
	if kind == v1alpha1.OutputEnvoyFilter {
		var buf bytes.Buffer
		if err := json.Compact(&buf, spec.PluginConfig.Raw); err != nil {
			return nil, fmt.Errorf("%w: pluginConfig: %v", ErrInvalidSpec, err)
		}
		return buf.Bytes(), nil
	}
	st, err := pluginConfig(spec.PluginConfig)
	if err != nil {
		return nil, err
	}
	return json.Marshal(st.AsMap())
}
