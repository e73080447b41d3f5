package check

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// writeFile writes b to a file named name in a temporary directory.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIsFile(t *testing.T) {
	p := writeFile(t, "filter", wasmtest.ProxyWasm)
	for target, want := range map[string]bool{
		p:                                  true,  // exists, whatever its name
		"missing/plugin.wasm":              true,  // a .wasm path: "no such file", not "invalid reference"
		filepath.Dir(p):                    false, // a directory is not a module
		"127.0.0.1:5000/acme/filter:1.0":   false,
		"registry.example.com/x/plug.wasm": true, // no tag or port: read as a path
		"ghcr.io/acme/f@sha256:0":          false,
	} {
		if got := IsFile(target); got != want {
			t.Errorf("IsFile(%q) = %v, want %v", target, got, want)
		}
	}
}

func TestLoadFile(t *testing.T) {
	p := writeFile(t, "plugin.wasm", wasmtest.ProxyWasm)
	m, err := Load(context.Background(), Source{Target: p})
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != FormatFile || m.Size != int64(len(wasmtest.ProxyWasm)) || len(m.SHA256) != 64 || m.Digest != "" {
		t.Errorf("got %+v", m)
	}
	if _, err := Load(context.Background(), Source{Target: p, MaxModuleSize: 100}); !errors.Is(err, oci.ErrTooLarge) {
		t.Errorf("over the cap: err %v, want oci.ErrTooLarge", err)
	}
	if _, err := Load(context.Background(), Source{Target: filepath.Join(t.TempDir(), "gone.wasm")}); !errors.Is(err, ErrNoFile) {
		t.Errorf("missing file: err %v, want ErrNoFile", err)
	}
}

// TestLoadImage reads a module from a real registry in every format, as the operator does.
func TestLoadImage(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ctx := context.Background()
	for _, f := range []oci.Format{oci.FormatCNCF, oci.FormatWasmToOCI, oci.FormatSolo, oci.FormatDockerImage, oci.FormatOCIImage} {
		d, err := ocitest.Push(ctx, reg.Host, "acme/"+string(f)+":1.0", f, wasmtest.ProxyWasm)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Load(ctx, Source{Target: reg.Ref("acme/" + string(f) + ":1.0"), Insecure: true})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if m.Format != string(f) || m.Digest != d.String() || m.Repository != reg.Ref("acme/"+string(f)) || string(m.Wasm) != string(wasmtest.ProxyWasm) {
			t.Errorf("%s: got format %s digest %s repository %s", f, m.Format, m.Digest, m.Repository)
		}
	}
	if _, err := Load(ctx, Source{Target: reg.Ref("acme/none:1.0"), Insecure: true}); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("missing tag: err %v, want oci.ErrNotFound", err)
	}
}

func TestLoadImageWithCredential(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	cred := auth.Credential{Username: "ci", Password: "s3cret"}
	reg.RequireAuth(cred.Username, cred.Password)
	ctx := context.Background()
	if _, err := ocitest.Push(ctx, reg.Host, "acme/f:1", oci.FormatCNCF, wasmtest.ProxyWasm, ocitest.Credential(cred)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, Source{Target: reg.Ref("acme/f:1"), Insecure: true}); !errors.Is(err, oci.ErrUnauthorized) {
		t.Errorf("anonymous: err %v, want oci.ErrUnauthorized", err)
	}
	if _, err := Load(ctx, Source{Target: reg.Ref("acme/f:1"), Insecure: true, Credential: cred}); err != nil {
		t.Errorf("with the credential: %v", err)
	}
}

func TestDockerCredential(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	img := "registry.example.com:5000/acme/f:1"
	if c, note := DockerCredential(img); c != (auth.Credential{}) || note != "" {
		t.Errorf("no config: got %+v, %q; want anonymous, no note", c, note)
	}
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	basic := base64.StdEncoding.EncodeToString([]byte("ci:pw"))
	write(`{"auths":{"https://registry.example.com:5000/v1/":{"auth":"` + basic + `"}}}`)
	if c, note := DockerCredential(img); c.Username != "ci" || c.Password != "pw" || note != "" {
		t.Errorf("docker login entry: got %+v, %q", c, note)
	}
	if c, note := DockerCredential("other.example.com/acme/f:1"); c != (auth.Credential{}) || note != "" {
		t.Errorf("no entry for the host: got %+v, %q; want anonymous, no note", c, note)
	}
	write(`{"auths":{},"credsStore":"desktop"}`)
	if c, note := DockerCredential(img); c != (auth.Credential{}) || !strings.Contains(note, "credential helper") {
		t.Errorf("credential helper: got %+v, %q; want anonymous with a note", c, note)
	}
	write(`{"auths":{"registry.example.com:5000":{"auth":"%%%"}}}`)
	if c, note := DockerCredential(img); c != (auth.Credential{}) || !strings.Contains(note, "base64") {
		t.Errorf("broken entry: got %+v, %q; want anonymous with a note", c, note)
	}
}
