package oci_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/wasmext/wasmext/internal/oci"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestCredentialFromDockerConfigJSON(t *testing.T) {
	alice := auth.Credential{Username: "alice", Password: "s3cret"}
	tests := []struct {
		name    string
		json    string
		host    string
		want    auth.Credential
		wantErr string // substring; ErrInvalidPullSecret implied
	}{
		{"auth field", `{"auths":{"reg.io":{"auth":"` + b64("alice:s3cret") + `"}}}`, "reg.io", alice, ""},
		{"password with colon", `{"auths":{"reg.io":{"auth":"` + b64("alice:s3:cret") + `"}}}`, "reg.io", auth.Credential{Username: "alice", Password: "s3:cret"}, ""},
		{"username password", `{"auths":{"reg.io":{"username":"alice","password":"s3cret"}}}`, "reg.io", alice, ""},
		{"auth wins", `{"auths":{"reg.io":{"auth":"` + b64("alice:s3cret") + `","username":"bob","password":"x"}}}`, "reg.io", alice, ""},
		{"identity token", `{"auths":{"reg.io":{"auth":"` + b64("00000000-0000-0000-0000-000000000000:") + `","identitytoken":"tok"}}}`, "reg.io",
			auth.Credential{Username: "00000000-0000-0000-0000-000000000000", RefreshToken: "tok"}, ""},
		{"registry token", `{"auths":{"reg.io":{"registrytoken":"acc"}}}`, "reg.io", auth.Credential{AccessToken: "acc"}, ""},
		{"https prefix", `{"auths":{"https://reg.io":{"auth":"` + b64("alice:s3cret") + `"}}}`, "reg.io", alice, ""},
		{"https prefix and path", `{"auths":{"https://reg.io/v1/":{"auth":"` + b64("alice:s3cret") + `"}}}`, "reg.io", alice, ""},
		{"port", `{"auths":{"127.0.0.1:5000":{"auth":"` + b64("alice:s3cret") + `"}}}`, "127.0.0.1:5000", alice, ""},
		{"case", `{"auths":{"Reg.IO":{"auth":"` + b64("alice:s3cret") + `"}}}`, "reg.io", alice, ""},
		{"docker hub alias", `{"auths":{"https://index.docker.io/v1/":{"auth":"` + b64("alice:s3cret") + `"}}}`, "docker.io", alice, ""},
		{"exact beats normalized", `{"auths":{"https://reg.io":{"auth":"` + b64("bob:x") + `"},"reg.io":{"auth":"` + b64("alice:s3cret") + `"}}}`, "reg.io", alice, ""},
		{"port must match", `{"auths":{"reg.io:5000":{"auth":"` + b64("alice:s3cret") + `"}}}`, "reg.io", auth.Credential{}, `has entries for ["reg.io:5000"]`},
		{"other host", `{"auths":{"a.io":{},"b.io":{}}}`, "reg.io", auth.Credential{}, `no entry for registry "reg.io"; the secret has entries for ["a.io", "b.io"]`},
		{"no auths", `{}`, "reg.io", auth.Credential{}, "no \"auths\""},
		{"legacy dockercfg", `{"reg.io":{"auth":"` + b64("alice:s3cret") + `"}}`, "reg.io", auth.Credential{}, "no \"auths\""},
		{"not json", `auths`, "reg.io", auth.Credential{}, "not valid docker config JSON"},
		{"bad base64", `{"auths":{"reg.io":{"auth":"!!!"}}}`, "reg.io", auth.Credential{}, "not valid base64"},
		{"auth without colon", `{"auths":{"reg.io":{"auth":"` + b64("alice") + `"}}}`, "reg.io", auth.Credential{}, "user:password"},
		{"empty entry", `{"auths":{"reg.io":{}}}`, "reg.io", auth.Credential{}, "has no auth"},
		{"user without password", `{"auths":{"reg.io":{"username":"alice"}}}`, "reg.io", auth.Credential{}, "no password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := oci.CredentialFromDockerConfigJSON([]byte(tt.json), tt.host)
			if got != tt.want {
				t.Errorf("credential = %+v, want %+v", got, tt.want)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, oci.ErrInvalidPullSecret) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want ErrInvalidPullSecret containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func FuzzCredentialFromDockerConfigJSON(f *testing.F) {
	f.Add([]byte(`{"auths":{"reg.io":{"auth":"`+b64("alice:s3cret")+`"}}}`), "reg.io")
	f.Add([]byte(`{"auths":{"https://index.docker.io/v1/":{"identitytoken":"t"}}}`), "docker.io")
	f.Fuzz(func(t *testing.T, data []byte, host string) {
		cred, err := oci.CredentialFromDockerConfigJSON(data, host)
		if err != nil && (!errors.Is(err, oci.ErrInvalidPullSecret) || cred != (auth.Credential{})) {
			t.Fatalf("err = %v with credential set or unclassified", err)
		}
	})
}
