package chart

import (
	"strings"
	"testing"
)

// TestLint: `helm lint --strict` (warnings fail) passes with default and with custom values,
// and reports nothing worse than the missing icon.
func TestLint(t *testing.T) {
	needHelm(t)
	for name, args := range map[string][]string{
		"default values": nil,
		"custom values":  {"--values", valuesFile(t, customValues)},
	} {
		t.Run(name, func(t *testing.T) {
			out := mustHelm(t, append([]string{"lint", "--strict", chart}, args...)...)
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "[") && !strings.HasPrefix(line, "[INFO] Chart.yaml: icon is recommended") {
					t.Errorf("helm lint: %s", line)
				}
			}
			if !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
				t.Errorf("helm lint output lacks its summary:\n%s", out)
			}
		})
	}
}

// schemaCase is a value the chart must refuse; refused is a substring of helm's message.
type schemaCase struct {
	name, values, refused string
}

var schemaCases = []schemaCase{
	{"replicas not a number", "replicaCount: two", "/replicaCount"},
	{"unknown top-level key", "replicas: 2", "additional properties 'replicas' not allowed"},
	{"unknown nested key", "moduleServer: {prot: 8082}", "additional properties 'prot' not allowed"},
	{"unknown key two levels down", "moduleServer: {cacheDir: {size: 1Gi}}", "additional properties 'size' not allowed"},
	{"list as a string", "policy: {allowedRegistries: registry.example.com}", "/policy/allowedRegistries"},
	{"boolean as a string", "policy: {requireSignature: \"yes\"}", "/policy/requireSignature"},
	{"port out of range", "moduleServer: {port: 70000}", "/moduleServer/port"},
	{"not a quantity", "limits: {maxModuleSize: big}", "/limits/maxModuleSize"},
	{"not a duration", "moduleServer: {grace: soon}", "/moduleServer/grace"},
	{"GOMEMLIMIT not in Go's syntax", "goMemLimit: 100Mi", "/goMemLimit"},
	{"not a namespace name", "secretNamespaces: [Tenant_A]", "/secretNamespaces/0"},
	{"unknown log encoder", "log: {encoder: xml}", "/log/encoder"},
	{"zero replicas", "replicaCount: 0", "/replicaCount"},
	{"extra arg not a flag", "extraArgs: [debug]", "/extraArgs/0"},
	{"no Secret access at all", "clusterWideSecrets: false", "/secretNamespaces"},
}

// TestSchemaRefuses: `helm template` and `helm lint` both refuse each bad value with a message
// naming it, while the same commands accept the custom values (so a refusal is the value's).
func TestSchemaRefuses(t *testing.T) {
	needHelm(t)
	good := valuesFile(t, customValues)
	mustHelm(t, "template", "ok", chart, "--values", good)
	mustHelm(t, "lint", chart, "--values", good)
	for _, tc := range schemaCases {
		t.Run(tc.name, func(t *testing.T) {
			bad := valuesFile(t, tc.values)
			for _, cmd := range [][]string{{"template", "bad", chart}, {"lint", chart}} {
				out, err := helm(t, append(cmd, "--values", bad)...)
				switch {
				case err == nil:
					t.Errorf("helm %s accepted %q:\n%s", cmd[0], tc.values, out)
				case !strings.Contains(err.Error()+out, tc.refused):
					t.Errorf("helm %s refused %q without %q: %v\n%s", cmd[0], tc.values, tc.refused, err, out)
				}
			}
		})
	}
	// Past the schema (--skip-schema-validation), the templates still refuse an operator that
	// may read no Secret.
	_, err := helm(t, "template", "bad", chart, "--skip-schema-validation", "--set", "clusterWideSecrets=false")
	if want := "set secretNamespaces to the namespaces of your extensions"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("helm template --skip-schema-validation --set clusterWideSecrets=false: %v; want %q", err, want)
	}
}
