package main

import (
	"flag"
	"io"
	"reflect"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	t.Setenv("WASMEXT_REGISTRY_BIN", "/opt/registry")
	for _, tc := range []struct {
		args    []string
		want    options
		wantErr string
	}{
		{nil, options{registry: "auto", registryBin: "/opt/registry", timeout: 60 * time.Second}, ""},
		{[]string{"-keep", "-registry", "inprocess", "-samples", "s", "-skip-istio-crds", "a,b", "-timeout", "5s", "-registry-bin", "r"},
			options{keep: true, registry: "inprocess", registryBin: "r", samples: "s", skipCRDs: "a,b", timeout: 5 * time.Second}, ""},
		{[]string{"-registry", "distribution"}, options{registry: "distribution", registryBin: "/opt/registry", timeout: 60 * time.Second}, ""},
		{[]string{"-registry", "docker"}, options{}, `-registry must be auto, distribution or inprocess, not "docker"`},
		{[]string{"-no-such-flag"}, options{}, "flag provided but not defined: -no-such-flag"},
	} {
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		got, err := parseFlags(fs, tc.args)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("parseFlags(%q) error = %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseFlags(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
}

func TestModuleURLs(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec map[string]any
		want []moduleURL
		pins []string
	}{
		{"WasmPlugin", map[string]any{"url": "oci://r/m@sha256:abc", "phase": "AUTHN"},
			[]moduleURL{{path: "spec.url", url: "oci://r/m@sha256:abc"}}, []string{"digest-pinned"}},
		{"TrafficExtension by tag", map[string]any{"wasm": map[string]any{"url": "oci://r/m:1.0"}},
			[]moduleURL{{path: "spec.wasm.url", url: "oci://r/m:1.0"}}, []string{""}},
		{"EnvoyFilter remote code", map[string]any{"configPatches": []any{map[string]any{"remote": map[string]any{
			"http_uri": map[string]any{"uri": "http://mods/x.wasm"}, "sha256": "feed"}}}},
			[]moduleURL{{path: "spec.configPatches[0].remote.http_uri.uri", url: "http://mods/x.wasm", sha256: "feed"}},
			[]string{"pinned by sha256 feed"}},
		{"no URL", map[string]any{"url": "not a url"}, nil, nil},
	} {
		got := moduleURLs(tc.spec, "spec")
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: moduleURLs = %+v, want %+v", tc.name, got, tc.want)
			continue
		}
		for i, u := range got {
			if p := u.pinning(); p != tc.pins[i] {
				t.Errorf("%s: %s pinning = %q, want %q", tc.name, u.path, p, tc.pins[i])
			}
		}
	}
}
