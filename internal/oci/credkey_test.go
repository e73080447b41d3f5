package oci

import (
	"testing"

	"oras.land/oras-go/v2/registry/remote/auth"
)

// TestCredentialKey: a key differs when any scope part or any credential
// field differs, and parts cannot run into each other.
func TestCredentialKey(t *testing.T) {
	base := auth.Credential{Username: "u", Password: "p", RefreshToken: "r", AccessToken: "a"}
	k := CredentialKey(base, "r.example", "false")
	if k != CredentialKey(base, "r.example", "false") {
		t.Fatal("the same input gave two keys")
	}
	seen := map[string]string{k: "base"}
	variants := map[string]string{
		"scope":         CredentialKey(base, "r2.example", "false"),
		"scope parts":   CredentialKey(base, "r.examplefalse"),
		"joined fields": CredentialKey(auth.Credential{Username: "up", RefreshToken: "r", AccessToken: "a"}, "r.example", "false"),
		"anonymous":     CredentialKey(auth.Credential{}, "r.example", "false"),
	}
	for _, f := range []func(*auth.Credential){
		func(c *auth.Credential) { c.Username = "x" }, func(c *auth.Credential) { c.Password = "x" },
		func(c *auth.Credential) { c.RefreshToken = "x" }, func(c *auth.Credential) { c.AccessToken = "x" },
	} {
		c := base
		f(&c)
		variants["field "+c.Username+c.Password+c.RefreshToken+c.AccessToken] = CredentialKey(c, "r.example", "false")
	}
	for name, v := range variants {
		if other, dup := seen[v]; dup {
			t.Errorf("%s gives the same key as %s", name, other)
		}
		seen[v] = name
	}
}
