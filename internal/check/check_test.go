package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/sandbox"
	"github.com/wasmext/wasmext/internal/wasm"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// logged says whether the dry run logged a line containing s.
func logged(r *Result, s string) bool {
	return slices.ContainsFunc(r.Report.Logs, func(l sandbox.LogLine) bool { return strings.Contains(l.Message, s) })
}

// TestRunFixtures checks real modules from files, each reaching the Reason the operator sets.
func TestRunFixtures(t *testing.T) {
	for _, c := range []struct {
		name, reason string
		wasm         []byte
		dryRun       bool   // the dry run was reached
		log          string // a line the module logged
	}{
		{"ProxyWasm", "", wasmtest.ProxyWasm, true, "proxy_wasm v1: configured"},
		{"ConfigureFails", v1alpha1.ReasonConfigureFailed, wasmtest.ConfigureFails, true, "configure_fails: rejecting the configuration"},
		{"ConfigureTraps", v1alpha1.ReasonModuleTrapped, wasmtest.ConfigureTraps, true, ""},
		{"NotProxyWasm", v1alpha1.ReasonNotProxyWasm, wasmtest.NotProxyWasm, false, ""},
		{"Invalid", v1alpha1.ReasonInvalidWasm, wasmtest.Invalid, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := Run(context.Background(), Options{Source: Source{Target: writeFile(t, "plugin.wasm", c.wasm)}})
			if res.Reason != c.reason || res.Passed() != (c.reason == "") || res.DryRun != c.dryRun {
				t.Fatalf("reason %q passed %v dry run %v (err %v); want %q, dry run %v", res.Reason, res.Passed(), res.DryRun, res.Err, c.reason, c.dryRun)
			}
			if c.reason != "" && !res.Failed() {
				t.Errorf("Failed() false for %s", c.reason)
			}
			if c.log != "" && !logged(res, c.log) {
				t.Errorf("log %v; want a line with %q", res.Report.Logs, c.log)
			}
			if c.dryRun && (res.Facts.ABI != "proxy_abi_version_0_2_1" || res.Report.EntryPoint == "" || res.Report.Allocator == "") {
				t.Errorf("facts %+v report %+v; want the ABI, entry point and allocator", res.Facts, res.Report)
			}
		})
	}
}

// TestRunImage checks modules by image reference from a real registry, as the operator reads them.
func TestRunImage(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ctx := context.Background()
	good, err := ocitest.Push(ctx, reg.Host, "acme/good:1.0", oci.FormatOCIImage, wasmtest.ProxyWasm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ocitest.Push(ctx, reg.Host, "acme/bad:1.0", oci.FormatCNCF, wasmtest.ConfigureFails); err != nil {
		t.Fatal(err)
	}
	res := Run(ctx, Options{Source: Source{Target: reg.Ref("acme/good:1.0"), Insecure: true}})
	if !res.Passed() || res.Module.Digest != good.String() || res.Module.Format != string(oci.FormatOCIImage) {
		t.Errorf("good: err %v, module %+v; want a pass of %s", res.Err, res.Module, good)
	}
	res = Run(ctx, Options{Source: Source{Target: reg.Ref("acme/bad:1.0"), Insecure: true}})
	if res.Reason != v1alpha1.ReasonConfigureFailed || !logged(res, "rejecting the configuration") {
		t.Errorf("bad: reason %q, err %v, logs %v; want ConfigureFailed with the module's line", res.Reason, res.Err, res.Report.Logs)
	}
	res = Run(ctx, Options{Source: Source{Target: reg.Ref("acme/missing:1.0"), Insecure: true}})
	if res.Reason != v1alpha1.ReasonNotFound || res.Step != StepFetch {
		t.Errorf("missing: reason %q step %q; want NotFound at fetch", res.Reason, res.Step)
	}
	res = Run(ctx, Options{Source: Source{Target: reg.Ref("acme/good:1.0")}}) // HTTPS to a plain HTTP registry
	if res.Reason != v1alpha1.ReasonRegistryNotTLS {
		t.Errorf("without --insecure: reason %q (err %v); want RegistryNotTLS", res.Reason, res.Err)
	}
}

// TestRunHandsPluginConfig: the module's proxy_on_configure receives the pluginConfig as the
// proxy would for the output, and the dry-run key changes with it.
func TestRunHandsPluginConfig(t *testing.T) {
	path := writeFile(t, "plugin.wasm", wasmtest.ProxyWasm)
	raw := &apiextensionsv1.JSON{Raw: []byte(`{"n": 12345678901234567, "a": "b"}`)}
	keys := map[string]bool{}
	for kind, want := range map[v1alpha1.OutputKind]string{
		v1alpha1.OutputWasmPlugin:  `{"a":"b","n":12345678901234568}`,
		v1alpha1.OutputEnvoyFilter: `{"n":12345678901234567,"a":"b"}`,
	} {
		res := Run(context.Background(), Options{Source: Source{Target: path}, PluginConfig: raw, Output: kind})
		if !res.Passed() || !logged(res, want) || res.ConfigSize != len(want) {
			t.Errorf("%s: err %v, logs %v, %d bytes; want %s logged", kind, res.Err, res.Report.Logs, res.ConfigSize, want)
		}
		keys[res.Key] = true
	}
	if len(keys) != 2 {
		t.Errorf("dry-run keys %v; want one per configuration", keys)
	}
}

// TestRunNetworkAndPluginName: --type and --plugin-name reach the module.
func TestRunNetworkAndPluginName(t *testing.T) {
	res := Run(context.Background(), Options{Source: Source{Target: writeFile(t, "n.wasm", wasmtest.NetworkFilter)}, Type: "NETWORK"})
	if !res.Passed() || !logged(res, "network_filter: downstream data") {
		t.Errorf("NETWORK: err %v logs %v", res.Err, res.Report.Logs)
	}
	res = Run(context.Background(), Options{Source: Source{Target: writeFile(t, "m.wasm", wasmtest.MallocOnly)}, PluginName: "rate-limit"})
	if !res.Passed() || !logged(res, "plugin_name=rate-limit") {
		t.Errorf("plugin name: err %v logs %v", res.Err, res.Report.Logs)
	}
}

// TestRunLimits: the --timeout and --memory-limit of the sandbox apply.
func TestRunLimits(t *testing.T) {
	// GoWASIP1 starts with more than one page; a one-page limit refuses it.
	res := Run(context.Background(), Options{
		Source:  Source{Target: writeFile(t, "go.wasm", wasmtest.GoWASIP1)},
		Sandbox: sandbox.Config{MemoryLimitPages: 1, Timeout: time.Minute}, // compiling 3.3 MB under -race is slow
	})
	if res.Reason != v1alpha1.ReasonMemoryLimit {
		t.Errorf("one page: reason %q (err %v); want MemoryLimit", res.Reason, res.Err)
	}
}

// TestRunRefusesBadConfigBeforeFetching: a pluginConfig the API server would refuse is a
// usage error (no Reason), and nothing is read.
func TestRunRefusesBadConfigBeforeFetching(t *testing.T) {
	res := Run(context.Background(), Options{
		Source:       Source{Target: "127.0.0.1:1/never/read:1"},
		PluginConfig: &apiextensionsv1.JSON{Raw: []byte(`[1, 2]`)},
	})
	if res.Step != StepConfig || res.Reason != "" || res.Module != nil || res.Failed() {
		t.Errorf("step %q reason %q module %v; want a pluginConfig error before the fetch", res.Step, res.Reason, res.Module)
	}
}

func TestReason(t *testing.T) {
	for err, want := range map[error]string{
		oci.ErrNotFound:                         v1alpha1.ReasonNotFound,
		oci.ErrUnauthorized:                     v1alpha1.ReasonUnauthorized,
		oci.ErrTooLarge:                         v1alpha1.ReasonModuleTooLarge,
		oci.ErrDigestMismatch:                   v1alpha1.ReasonDigestMismatch,
		oci.ErrUnsupportedFormat:                v1alpha1.ReasonUnsupportedFormat,
		oci.ErrInvalidReference:                 v1alpha1.ReasonInvalidReference,
		wasm.ErrInvalidWasm:                     v1alpha1.ReasonInvalidWasm,
		wasm.ErrNotProxyWasm:                    v1alpha1.ReasonNotProxyWasm,
		sandbox.ErrMissingImport:                v1alpha1.ReasonMissingImport,
		sandbox.ErrInvalidABI:                   v1alpha1.ReasonInvalidABI,
		sandbox.ErrConfigureFailed:              v1alpha1.ReasonConfigureFailed,
		sandbox.ErrTrapped:                      v1alpha1.ReasonModuleTrapped,
		sandbox.ErrTimeout:                      v1alpha1.ReasonTimeout,
		sandbox.ErrMemoryLimit:                  v1alpha1.ReasonMemoryLimit,
		sandbox.ErrInvalidModule:                v1alpha1.ReasonInvalidWasm,
		fmt.Errorf("read: %w", oci.ErrNotFound): v1alpha1.ReasonNotFound,
	} {
		if got, ok := Reason(err); got != want || !ok {
			t.Errorf("Reason(%v) = %q, %v; want %q", err, got, ok, want)
		}
	}
	if got, ok := Reason(errors.New("connection refused")); ok || got != "" {
		t.Errorf("transient error: Reason = %q, %v; want none", got, ok)
	}
}
