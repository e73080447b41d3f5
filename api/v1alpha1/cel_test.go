package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/testenv"
)

// k8s reaches the envtest apiserver that serves the CRD of config/crd/bases.
var k8s client.Client

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	env, err := testenv.Start(testenv.Options{NoIstioCRDs: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if k8s, err = client.New(env.Config, client.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// celCase is one WasmExtension spec sent to the API server. refused is a
// substring of the rule's message that the server must answer with; empty
// means the object must be accepted.
type celCase struct {
	name    string
	spec    string
	refused string
}

const img = "module: {image: registry.example.com/acme/filter:1.0}\n"

// Messages of the rules, as far as a test needs to recognize them.
const (
	msgSelectorOrTargets = "set at most one of selector and targetRefs"
	msgEnvoyOnlyEF       = "envoy is only allowed with output EnvoyFilter"
	msgImageScheme       = "image is an OCI reference without a scheme"
	msgCosignOne         = "set exactly one of publicKeySecretRef and keyless"
	msgIssuerOne         = "set exactly one of issuer and issuerRegExp"
	msgSubjectOne        = "set exactly one of subject and subjectRegExp"
	msgEnvHost           = "value must be empty when valueFrom is Host"
	msgInterval          = "interval must be at least 10s"
	msgEFWaypoint        = "output EnvoyFilter attaches only to Gateway and GatewayClass targets"
	msgGatewayServer     = "match selects no gateway traffic: mode Server is sidecar inbound only"
	msgGroupKind         = "group must be gateway.networking.k8s.io for kind Gateway and GatewayClass"
	msgEFDelivery        = "output EnvoyFilter always loads the module from the operator's module server"
	msgSkipReason        = "dryRun Disabled needs a skipReason"
	msgImageOrHTTP       = "set exactly one of image and http"
	msgSemverRepo        = "with semver, image names the repository without a tag or digest"
	msgSemverDigest      = "semver picks the tag and digest; remove digest"
	msgHTTPNoDigest      = "digest and pullSecretRef apply to image"
	msgHTTPURL           = "url must start with https://"
)

const (
	gw      = "{group: gateway.networking.k8s.io, kind: Gateway, name: public}"
	gwClass = "{group: gateway.networking.k8s.io, kind: GatewayClass, name: istio}"
	svc     = "{kind: Service, name: reviews}"
	se      = "{group: networking.istio.io, kind: ServiceEntry, name: ext}"
)

// celCases covers every x-kubernetes-validations rule of the CRD with at
// least one object it refuses and one it accepts.
var celCases = []celCase{
	// spec: selector and targetRefs
	{"selector and targetRefs", img + "selector: {matchLabels: {app: a}}\ntargetRefs: [" + gw + "]", msgSelectorOrTargets},
	{"selector only", img + "selector: {matchLabels: {app: a}}", ""},
	{"targetRefs only", img + "targetRefs: [" + gw + "]", ""},

	// spec: envoy only with output EnvoyFilter
	{"envoy with WasmPlugin", img + "output: WasmPlugin\nenvoy: {allowOnHeadersStopIteration: true}", msgEnvoyOnlyEF},
	{"envoy with default output Auto", img + "envoy: {allowOnHeadersStopIteration: true}", msgEnvoyOnlyEF},
	{"envoy with EnvoyFilter", img + "output: EnvoyFilter\nenvoy: {allowOnHeadersStopIteration: true}", ""},

	// spec: delivery Registry not with output EnvoyFilter
	{"EnvoyFilter with delivery Registry", img + "output: EnvoyFilter\ndelivery: Registry", msgEFDelivery},
	{"EnvoyFilter with delivery Cache", img + "output: EnvoyFilter\ndelivery: Cache", ""},
	{"WasmPlugin with delivery Registry", img + "output: WasmPlugin\ndelivery: Registry", ""},

	// module.image: no scheme
	{"image oci://", "module: {image: 'oci://registry.example.com/acme/filter:1.0'}", msgImageScheme},
	{"image https://", "module: {image: 'https://registry.example.com/acme/filter.wasm'}", msgImageScheme},
	{"image by digest", "module: {image: 'registry.example.com/acme/filter@sha256:" + strings.Repeat("a", 64) + "'}", ""},

	// verify.cosign: exactly one of publicKeySecretRef and keyless
	{"cosign key and keyless", img + "verify: {cosign: {publicKeySecretRef: {name: k}, keyless: {issuer: 'https://i', subject: s}}}", msgCosignOne},
	{"cosign neither", img + "verify: {cosign: {}}", msgCosignOne},
	{"cosign key", img + "verify: {cosign: {publicKeySecretRef: {name: k}}}", ""},

	// keyless: issuer xor issuerRegExp, subject xor subjectRegExp
	{"keyless issuer and issuerRegExp", img + "verify: {cosign: {keyless: {issuer: 'https://i', issuerRegExp: '.*', subject: s}}}", msgIssuerOne},
	{"keyless no issuer", img + "verify: {cosign: {keyless: {subject: s}}}", msgIssuerOne},
	{"keyless subject and subjectRegExp", img + "verify: {cosign: {keyless: {issuer: 'https://i', subject: s, subjectRegExp: '.*'}}}", msgSubjectOne},
	{"keyless no subject", img + "verify: {cosign: {keyless: {issuer: 'https://i'}}}", msgSubjectOne},
	{"keyless issuerRegExp and subject", img + "verify: {cosign: {keyless: {issuerRegExp: '^https://', subject: s}}}", ""},

	// env: no value with valueFrom Host
	{"env Host with value", img + "env: [{name: A, valueFrom: Host, value: x}]", msgEnvHost},
	{"env Host", img + "env: [{name: A, valueFrom: Host}]", ""},
	{"env Inline with value", img + "env: [{name: A, value: x}]", ""},

	// module.interval: at least 10s
	{"interval 9s", "module: {image: registry.example.com/acme/filter:1.0, interval: 9s}", msgInterval},
	{"interval 500ms", "module: {image: registry.example.com/acme/filter:1.0, interval: 500ms}", msgInterval},
	{"interval 9999ms", "module: {image: registry.example.com/acme/filter:1.0, interval: 9999ms}", msgInterval},
	{"no source", "module: {interval: 10m}", msgImageOrHTTP},
	{"image and http", "module: {image: r.example.com/a/f:1, http: {url: 'https://h.example.com/f.wasm', sha256: SHA}}", msgImageOrHTTP},
	{"http source", "module: {http: {url: 'https://h.example.com/f.wasm', sha256: SHA, caSecretRef: {name: ca}}}", ""},
	{"http in cluster", "module: {http: {url: 'http://files.web.svc/f.wasm', sha256: SHA}}", ""},
	{"http ftp", "module: {http: {url: 'ftp://h.example.com/f.wasm', sha256: SHA}}", msgHTTPURL},
	{"http with digest", "module: {http: {url: 'https://h.example.com/f.wasm', sha256: SHA}, digest: 'sha256:SHA'}", msgHTTPNoDigest},
	{"http with pull secret", "module: {http: {url: 'https://h.example.com/f.wasm', sha256: SHA}, pullSecretRef: {name: s}}", msgHTTPNoDigest},
	{"semver", "module: {image: 'r.example.com:5000/acme/filter', semver: '>=1.2.0 <2.0.0'}", ""},
	{"semver with tag", "module: {image: 'r.example.com/acme/filter:1.2.0', semver: '>=1.2.0'}", msgSemverRepo},
	{"semver with digest ref", "module: {image: 'r.example.com/acme/filter@sha256:SHA', semver: '>=1.2.0'}", msgSemverRepo},
	{"semver with digest pin", "module: {image: 'r.example.com/acme/filter', semver: '>=1.2.0', digest: 'sha256:SHA'}", msgSemverDigest},
	{"semver with http", "module: {http: {url: 'https://h.example.com/f.wasm', sha256: SHA}, semver: '1.x'}", msgSemverRepo},
	{"dry run disabled without reason", img + "validation: {dryRun: Disabled}", msgSkipReason},
	{"dry run disabled, empty reason", img + "validation: {dryRun: Disabled, skipReason: ''}", msgSkipReason},
	{"dry run disabled with reason", img + "validation: {dryRun: Disabled, skipReason: needs a gRPC answer in on_configure}", ""},
	{"dry run enabled", img + "validation: {dryRun: Enabled}", ""},
	{"validation defaulted", img + "validation: {}", ""},
	{"interval 10s", "module: {image: registry.example.com/acme/filter:1.0, interval: 10s}", ""},
	{"interval 1h30m", "module: {image: registry.example.com/acme/filter:1.0, interval: 1h30m}", ""},

	// output EnvoyFilter: no waypoint (Service, ServiceEntry) targets
	{"EnvoyFilter Service", img + "output: EnvoyFilter\ntargetRefs: [" + svc + "]", msgEFWaypoint},
	{"EnvoyFilter ServiceEntry", img + "output: EnvoyFilter\ntargetRefs: [" + se + "]", msgEFWaypoint},
	{"EnvoyFilter Gateway and Service", img + "output: EnvoyFilter\ntargetRefs: [" + gw + ", " + svc + "]", msgEFWaypoint},
	{"EnvoyFilter Gateway and GatewayClass", img + "output: EnvoyFilter\ntargetRefs: [" + gw + ", " + gwClass + "]", ""},
	{"EnvoyFilter selector", img + "output: EnvoyFilter\nselector: {matchLabels: {app: a}}", ""},
	{"WasmPlugin Service", img + "output: WasmPlugin\ntargetRefs: [" + svc + "]", ""},
	{"Auto ServiceEntry", img + "targetRefs: [" + se + "]", ""},

	// mode Server on gateway targets
	{"Gateway mode Server", img + "targetRefs: [" + gw + "]\nmatch: [{mode: Server}]", msgGatewayServer},
	{"GatewayClass mode Server twice", img + "output: EnvoyFilter\ntargetRefs: [" + gwClass + "]\nmatch: [{mode: Server}, {mode: Server, ports: [80]}]", msgGatewayServer},
	{"Gateway mode Server and Client", img + "targetRefs: [" + gw + "]\nmatch: [{mode: Server}, {mode: Client}]", ""},
	{"Gateway ports without mode", img + "output: EnvoyFilter\ntargetRefs: [" + gw + "]\nmatch: [{ports: [8080]}]", ""},
	{"Gateway empty match", img + "targetRefs: [" + gw + "]\nmatch: []", ""},
	{"Gateway and Service mode Server", img + "output: WasmPlugin\ntargetRefs: [" + gw + ", " + svc + "]\nmatch: [{mode: Server}]", ""},
	{"selector mode Server", img + "match: [{mode: Server}]", ""},

	// targetRefs: group tied to kind
	{"Gateway without group", img + "targetRefs: [{kind: Gateway, name: public}]", msgGroupKind},
	{"Gateway in networking.istio.io", img + "targetRefs: [{group: networking.istio.io, kind: Gateway, name: public}]", msgGroupKind},
	{"GatewayClass without group", img + "targetRefs: [{kind: GatewayClass, name: istio}]", msgGroupKind},
	{"ServiceEntry without group", img + "targetRefs: [{kind: ServiceEntry, name: ext}]", msgGroupKind},
	{"Service in gateway group", img + "targetRefs: [{group: gateway.networking.k8s.io, kind: Service, name: reviews}]", msgGroupKind},
	{"second ref wrong", img + "targetRefs: [" + gw + ", {group: gateway.networking.k8s.io, kind: ServiceEntry, name: ext}]", msgGroupKind},
	{"Service with empty group", img + "targetRefs: [{group: '', kind: Service, name: reviews}]", ""},
	{"every kind with its group", img + "targetRefs: [" + gw + ", " + gwClass + ", " + svc + ", " + se + "]", ""},
}

// TestCELRules sends each case to the real API server (server-side dry run:
// defaulting, OpenAPI and CEL validation, nothing stored) and checks that
// bad objects are refused with their rule's message and good ones accepted.
func TestCELRules(t *testing.T) {
	for i, tc := range celCases {
		t.Run(tc.name, func(t *testing.T) {
			obj := extension(t, fmt.Sprintf("cel-%d", i), strings.ReplaceAll(tc.spec, "SHA", strings.Repeat("a", 64)))
			err := create(t, obj)
			switch {
			case tc.refused == "" && err != nil:
				t.Fatalf("refused, want accepted: %v", err)
			case tc.refused == "":
			case err == nil:
				t.Fatalf("accepted, want refused with %q", tc.refused)
			case !apierrors.IsInvalid(err):
				t.Fatalf("error is not Invalid: %v", err)
			case !strings.Contains(err.Error(), tc.refused):
				t.Fatalf("refused with %v\nwant a message containing %q", err, tc.refused)
			}
		})
	}
}

// TestDefaults checks the defaults the API server writes, which the
// documentation promises.
func TestDefaults(t *testing.T) {
	obj := extension(t, "defaults", img+"env: [{name: A, value: x}]")
	if err := create(t, obj); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"output":           string(v1alpha1.OutputAuto),
		"type":             string(v1alpha1.PluginTypeHTTP),
		"failStrategy":     string(v1alpha1.FailClose),
		"imagePullPolicy":  string(v1alpha1.PullIfNotPresent),
		"env[0].valueFrom": string(v1alpha1.EnvInline),
	} {
		if got := specField(t, obj, path); got != want {
			t.Errorf("spec.%s = %q, want %q", path, got, want)
		}
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", "suspend"); found {
		t.Errorf("spec.suspend is set by default; want it absent (false)")
	}
}

func extension(t *testing.T, name, spec string) *unstructured.Unstructured {
	t.Helper()
	var s map[string]any
	if err := yaml.Unmarshal([]byte(spec), &s); err != nil {
		t.Fatalf("case spec: %v", err)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{"spec": s}}
	obj.SetAPIVersion(v1alpha1.GroupVersion.String())
	obj.SetKind("WasmExtension")
	obj.SetNamespace("default")
	obj.SetName(name)
	return obj
}

// create dry-runs a create; obj receives the object as the server would store it.
func create(t *testing.T, obj *unstructured.Unstructured) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return k8s.Create(ctx, obj, client.DryRunAll)
}

// specField reads a string under spec; path is dot-separated, with [0] for
// the first list item.
func specField(t *testing.T, obj *unstructured.Unstructured, path string) string {
	t.Helper()
	cur := obj.Object["spec"]
	for _, part := range strings.Split(path, ".") {
		name, first := strings.CutSuffix(part, "[0]")
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("spec.%s: %s is not an object", path, part)
		}
		cur = m[name]
		if first {
			l, ok := cur.([]any)
			if !ok || len(l) == 0 {
				t.Fatalf("spec.%s: %s is not a non-empty list", path, name)
			}
			cur = l[0]
		}
	}
	s, _ := cur.(string)
	return s
}
