package controllers

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// TestDryRunPasses: a good module is dry-run and status says so, with the
// entry point and the input the dry run covered.
func TestDryRunPasses(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	pushT(t, reg, "acme/dry-good:v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	create(t, newExtension(ns, "dry-good", reg.Ref("acme/dry-good:v1")))
	ext := waitReady(t, ns, "dry-good")
	assertMessageContains(t, ext, v1alpha1.ConditionModuleValidated, "dry run passed (entry point _initialize")
	if d := ext.Status.Module.DryRun; d == nil || len(d.Input) != 64 || d.EntryPoint != "_initialize" || d.Duration == nil {
		t.Fatalf("status.module.dryRun = %+v, want the input hash, entry point and duration", d)
	}
}

// TestDryRunRefusesNewVersion: a new version whose proxy_on_configure
// fails (or traps) is refused with its Reason before anything is rendered;
// the WasmPlugin keeps serving the old digest, unchanged.
func TestDryRunRefusesNewVersion(t *testing.T) {
	for _, c := range []struct {
		name   string
		wasm   []byte
		reason string
		says   string
	}{
		{"dry-fails", wasmtest.ConfigureFails, v1alpha1.ReasonConfigureFailed, "proxy_on_configure"},
		{"dry-traps", wasmtest.ConfigureTraps, v1alpha1.ReasonModuleTrapped, "proxy_on_configure"},
	} {
		t.Run(c.reason, func(t *testing.T) {
			reg := ocitest.NewRegistry(t)
			ns := namespace(t)
			d1 := pushT(t, reg, "acme/"+c.name+":v1", oci.FormatCNCF, wasmtest.ProxyWasm)
			create(t, newExtension(ns, c.name, reg.Ref("acme/"+c.name+":v1")))
			waitReady(t, ns, c.name)
			waitServes(t, ns, c.name, d1)
			before, err := getWasmPlugin(ns, c.name)
			if err != nil {
				t.Fatal(err)
			}
			pushT(t, reg, "acme/"+c.name+":v1", oci.FormatCNCF, c.wasm)
			requestReconcile(t, ns, c.name)
			ext := waitCondition(t, ns, c.name, v1alpha1.ConditionModuleValidated, metav1.ConditionFalse, c.reason)
			assertMessageContains(t, ext, v1alpha1.ConditionModuleValidated, c.says)
			waitCondition(t, ns, c.name, v1alpha1.ConditionStalled, metav1.ConditionTrue, c.reason)
			after, err := getWasmPlugin(ns, c.name)
			if err != nil || after.ResourceVersion != before.ResourceVersion {
				t.Fatalf("the WasmPlugin changed (resourceVersion %s → %v, %v); a refused version must change nothing",
					before.ResourceVersion, after, err)
			}
			if m := getExt(t, ns, c.name).Status.Module; m.Digest != d1 {
				t.Fatalf("status.module.digest = %s, want the serving %s", m.Digest, d1)
			}
		})
	}
}

// TestDryRunSkipped: spec.validation can disable the dry run; the module is
// then rendered after inspection alone, and status and a Warning say so.
func TestDryRunSkipped(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	pushT(t, reg, "acme/dry-skip:v1", oci.FormatCNCF, wasmtest.ConfigureFails)
	ext := newExtension(ns, "dry-skip", reg.Ref("acme/dry-skip:v1"))
	ext.Spec.Validation = &v1alpha1.Validation{DryRun: v1alpha1.DryRunDisabled, SkipReason: "on_configure needs a gRPC answer"}
	create(t, ext)
	got := waitReady(t, ns, "dry-skip")
	c := waitCondition(t, ns, "dry-skip", v1alpha1.ConditionModuleValidated, metav1.ConditionTrue, v1alpha1.ReasonDryRunSkipped)
	assertMessageContains(t, c, v1alpha1.ConditionModuleValidated, "on_configure needs a gRPC answer")
	if d := got.Status.Module.DryRun; d == nil || d.Skipped != "on_configure needs a gRPC answer" {
		t.Fatalf("status.module.dryRun = %+v, want the skip reason", d)
	}
	waitEvent(t, ns, "dry-skip", corev1.EventTypeWarning, EventDryRunSkipped)

	// Enabling it again dry-runs the module, which refuses its
	// configuration; the rendered WasmPlugin stays.
	update(t, ns, "dry-skip", func(e *v1alpha1.WasmExtension) { e.Spec.Validation = nil })
	waitCondition(t, ns, "dry-skip", v1alpha1.ConditionModuleValidated, metav1.ConditionFalse, v1alpha1.ReasonConfigureFailed)
	if _, err := getWasmPlugin(ns, "dry-skip"); err != nil {
		t.Fatalf("the WasmPlugin is gone after a refused dry run: %v", err)
	}
}

// TestDryRunRefusesBadConfig: a module built with a real Proxy-Wasm SDK
// (AssemblyScript + @solo-io/proxy-runtime) refuses a pluginConfig typo in
// proxy_on_configure. The dry run runs it with the exact bytes the proxy
// would get, so the edit is refused with the module's own log line, and
// the WasmPlugin keeps the configuration that worked.
func TestDryRunRefusesBadConfig(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	pushT(t, reg, "acme/dry-config:v1", oci.FormatCNCF, wasmtest.AssemblyScript)
	ext := newExtension(ns, "dry-config", reg.Ref("acme/dry-config:v1"))
	ext.Spec.PluginName = wasmtest.AssemblyScriptRootID
	ext.Spec.PluginConfig = jsonValue(t, map[string]any{"header": "x-name", "value": "v"})
	create(t, ext)
	waitReady(t, ns, "dry-config")
	before, err := getWasmPlugin(ns, "dry-config")
	if err != nil {
		t.Fatal(err)
	}

	update(t, ns, "dry-config", func(e *v1alpha1.WasmExtension) {
		e.Spec.PluginConfig = jsonValue(t, map[string]any{"header": "x-name", "vaule": "v"})
	})
	got := waitCondition(t, ns, "dry-config", v1alpha1.ConditionModuleValidated, metav1.ConditionFalse, v1alpha1.ReasonConfigureFailed)
	assertMessageContains(t, got, v1alpha1.ConditionModuleValidated, `asplugin: invalid plugin configuration: unknown key "vaule"`)
	waitCondition(t, ns, "dry-config", v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonConfigureFailed)
	after, err := getWasmPlugin(ns, "dry-config")
	if err != nil || after.ResourceVersion != before.ResourceVersion {
		t.Fatalf("the WasmPlugin changed (resourceVersion %s → %v, %v); a refused pluginConfig must change nothing",
			before.ResourceVersion, after, err)
	}

	// The fix is dry-run again and rendered.
	update(t, ns, "dry-config", func(e *v1alpha1.WasmExtension) {
		e.Spec.PluginConfig = jsonValue(t, map[string]any{"header": "x-name", "value": "w"})
	})
	eventually(t, "the fixed pluginConfig rendered", func() error {
		wp, err := getWasmPlugin(ns, "dry-config")
		if err != nil {
			return err
		}
		if v := wp.Spec.PluginConfig.GetFields()["value"].GetStringValue(); v != "w" {
			return fmt.Errorf("WasmPlugin pluginConfig value %q, want w", v)
		}
		return nil
	})
}

// TestDryRunHostile: hostile modules pushed as a new version of a working
// extension each get their Reason, within the suite's dry-run limit (3s),
// and the WasmPlugin keeps serving the old digest (fixtures of
// internal/sandbox/testdata, built with wat2wasm).
func TestDryRunHostile(t *testing.T) {
	for _, c := range []struct {
		fixture, reason string
		stalled         bool
	}{
		{"loop_configure", v1alpha1.ReasonTimeout, false},
		{"loop_initialize", v1alpha1.ReasonTimeout, false},
		{"memory_bomb", v1alpha1.ReasonMemoryLimit, true},
		{"missing_import", v1alpha1.ReasonMissingImport, true},
		{"bad_signature", v1alpha1.ReasonInvalidABI, true},
		// Logging a GiB is capped, not refused: the module passes and
		// the operator keeps 64 KiB of it.
		{"log_flood", "", false},
	} {
		t.Run(c.fixture, func(t *testing.T) {
			t.Parallel()
			wasm, err := os.ReadFile(filepath.Join("..", "internal", "sandbox", "testdata", c.fixture+".wasm"))
			if err != nil {
				t.Fatal(err)
			}
			name := strings.ReplaceAll(c.fixture, "_", "-")
			reg := ocitest.NewRegistry(t)
			ns := namespace(t)
			d1 := pushT(t, reg, "acme/"+name+":v1", oci.FormatCNCF, wasmtest.ProxyWasm)
			create(t, newExtension(ns, name, reg.Ref("acme/"+name+":v1")))
			waitServes(t, ns, name, d1)
			d2 := pushT(t, reg, "acme/"+name+":v1", oci.FormatCNCF, wasm)
			requestReconcile(t, ns, name)
			if c.reason == "" {
				waitServes(t, ns, name, d2)
				return
			}
			waitCondition(t, ns, name, v1alpha1.ConditionModuleValidated, metav1.ConditionFalse, c.reason)
			summary := v1alpha1.ConditionReconciling
			if c.stalled {
				summary = v1alpha1.ConditionStalled
			}
			waitCondition(t, ns, name, summary, metav1.ConditionTrue, c.reason)
			waitServes(t, ns, name, d1)
		})
	}
}

// TestDryRunOncePerInput: extensions sharing a module and a configuration
// share one dry run; a resync or a reconcile request runs none (status
// covers it); a new pluginConfig runs one more.
func TestDryRunOncePerInput(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	wasm := wasmtest.Variant(4242)
	sha := fmt.Sprintf("%x", sha256.Sum256(wasm))
	pushT(t, reg, "acme/dry-shared:v1", oci.FormatCNCF, wasm)
	const n = 6
	for i := range n {
		create(t, newExtension(ns, fmt.Sprintf("shared-%d", i), reg.Ref("acme/dry-shared:v1")))
	}
	for i := range n {
		waitReady(t, ns, fmt.Sprintf("shared-%d", i))
	}
	counter := reconciler.Sandbox.(*countingSandbox)
	calls, runs := counter.counts(sha)
	if runs != 1 {
		t.Fatalf("%d extensions over one module and configuration made %d dry runs (%d calls); want 1", n, runs, calls)
	}
	requestReconcile(t, ns, "shared-0")
	eventually(t, "the reconcile request answered", func() error {
		if got := getExt(t, ns, "shared-0").Status.LastHandledReconcileAt; got == "" {
			return fmt.Errorf("lastHandledReconcileAt empty")
		}
		return nil
	})
	if c, _ := counter.counts(sha); c != calls {
		t.Fatalf("a reconcile request called the sandbox (%d calls, was %d): status.module.dryRun covers it", c, calls)
	}
	update(t, ns, "shared-1", func(e *v1alpha1.WasmExtension) {
		e.Spec.PluginConfig = jsonValue(t, map[string]any{"header": "x-other"})
	})
	eventually(t, "the new pluginConfig dry-run", func() error {
		if _, r := counter.counts(sha); r != 2 {
			return fmt.Errorf("%d dry runs, want 2", r)
		}
		return nil
	})
}
