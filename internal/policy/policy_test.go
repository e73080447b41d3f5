package policy

import (
	"errors"
	"testing"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

func TestCheck(t *testing.T) {
	signed := &v1alpha1.WasmExtensionSpec{Verify: &v1alpha1.Verification{}}
	unsigned := &v1alpha1.WasmExtensionSpec{}
	insecure := &v1alpha1.WasmExtensionSpec{Module: v1alpha1.ModuleSource{Insecure: true}}
	cases := []struct {
		name     string
		p        Policy
		spec     *v1alpha1.WasmExtensionSpec
		reg, rep string
		refused  bool
	}{
		{"zero policy allows all", Policy{}, insecure, "evil.example.com", "x", false},
		{"host allowed", Policy{AllowedRegistries: []string{"ghcr.io"}}, unsigned, "ghcr.io", "acme/f", false},
		{"other host refused", Policy{AllowedRegistries: []string{"ghcr.io"}}, unsigned, "docker.example.com", "acme/f", true},
		{"host with port is a different host", Policy{AllowedRegistries: []string{"127.0.0.1"}}, unsigned, "127.0.0.1:5000", "f", true},
		{"path prefix allowed", Policy{AllowedRegistries: []string{"ghcr.io/acme"}}, unsigned, "ghcr.io", "acme/f", false},
		{"path prefix with trailing slash", Policy{AllowedRegistries: []string{"ghcr.io/acme/"}}, unsigned, "ghcr.io", "acme/f", false},
		{"path prefix matches whole segments", Policy{AllowedRegistries: []string{"ghcr.io/acme"}}, unsigned, "ghcr.io", "acme-evil/f", true},
		{"exact repository", Policy{AllowedRegistries: []string{"ghcr.io/acme/f"}}, unsigned, "ghcr.io", "acme/f", false},
		{"signature required and missing", Policy{RequireSignature: true}, unsigned, "ghcr.io", "f", true},
		{"signature required and configured", Policy{RequireSignature: true}, signed, "ghcr.io", "f", false},
		{"insecure to a listed host", Policy{InsecureRegistries: []string{"127.0.0.1:5000"}}, insecure, "127.0.0.1:5000", "f", false},
		{"insecure to an unlisted host", Policy{InsecureRegistries: []string{"127.0.0.1:5000"}}, insecure, "ghcr.io", "f", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Check(tc.spec, tc.reg, tc.rep)
			if got := errors.Is(err, ErrViolation); got != tc.refused {
				t.Fatalf("Check() = %v, refused %v; want refused %v", err, got, tc.refused)
			}
		})
	}
}

func TestPlainHTTP(t *testing.T) {
	p := Policy{InsecureRegistries: []string{"registry.local:5000"}}
	if !p.PlainHTTP("registry.local:5000", false) || p.PlainHTTP("ghcr.io", false) || !p.PlainHTTP("ghcr.io", true) {
		t.Fatal("PlainHTTP: listed hosts and module.insecure use plain HTTP, others TLS")
	}
}
