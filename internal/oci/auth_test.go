package oci_test

import (
	"context"
	"errors"
	"testing"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func TestPullSecret(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	ctx := context.Background()
	reg.RequireAuth("alice", "s3cret")
	wasm := module("private")
	d := push(t, reg, "acme/private:1", oci.FormatCNCF, wasm, ocitest.Credential(auth.Credential{Username: "alice", Password: "s3cret"}))

	anon := request(reg, "acme/private:1")
	_, err := f.Resolve(ctx, anon)
	wantErr(t, err, oci.ErrUnauthorized)

	wrong := anon
	wrong.Credential = auth.Credential{Username: "alice", Password: "guess"}
	_, err = f.Resolve(ctx, wrong)
	wantErr(t, err, oci.ErrUnauthorized)
	_, err = f.Fetch(ctx, wrong, d)
	wantErr(t, err, oci.ErrUnauthorized)

	secret := []byte(`{"auths":{"http://` + reg.Host + `/v2/":{"auth":"` + b64("alice:s3cret") + `"}}}`)
	cred, err := oci.CredentialFromDockerConfigJSON(secret, reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	right := anon
	right.Credential = cred
	res, err := f.Resolve(ctx, right)
	if err != nil || res.Digest != d {
		t.Fatalf("Resolve with pull secret = %v, %v", res.Digest, err)
	}
	m, err := f.Fetch(ctx, right, d)
	if err != nil || string(m.Wasm) != string(wasm) {
		t.Fatalf("Fetch with pull secret: %v", err)
	}

	// The same Fetcher must not lend the cached credential to anyone else.
	_, err = f.Resolve(ctx, anon)
	wantErr(t, err, oci.ErrUnauthorized)
	_, err = f.Resolve(ctx, wrong)
	wantErr(t, err, oci.ErrUnauthorized)
}

// TestConcurrentCredentials runs anonymous and authenticated requests at
// once through one Fetcher: tokens must not leak between credentials.
func TestConcurrentCredentials(t *testing.T) {
	reg, f := setup(t, oci.Options{})
	reg.RequireAuth("alice", "s3cret")
	alice := auth.Credential{Username: "alice", Password: "s3cret"}
	d := push(t, reg, "acme/private:1", oci.FormatSolo, module("p"), ocitest.Credential(alice))

	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			req := request(reg, "acme/private:1")
			if i%2 == 0 {
				req.Credential = alice
			}
			_, err := f.Fetch(context.Background(), req, d)
			switch {
			case i%2 == 0 && err != nil:
				errs <- err
			case i%2 == 1 && !errors.Is(err, oci.ErrUnauthorized):
				errs <- errors.New("anonymous fetch was not refused")
			default:
				errs <- nil
			}
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
