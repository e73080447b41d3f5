package distribution

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/testenv/ci"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

func TestConfig(t *testing.T) {
	var c struct {
		Storage struct {
			Filesystem struct {
				RootDirectory string `json:"rootdirectory"`
			} `json:"filesystem"`
		} `json:"storage"`
		HTTP struct {
			Addr   string `json:"addr"`
			Secret string `json:"secret"`
		} `json:"http"`
	}
	if err := yaml.Unmarshal([]byte(Config("/s", "127.0.0.1:1", "xyz")), &c); err != nil {
		t.Fatal(err)
	}
	if c.Storage.Filesystem.RootDirectory != "/s" || c.HTTP.Addr != "127.0.0.1:1" || c.HTTP.Secret != "xyz" {
		t.Errorf("Config read back as %+v", c)
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{
		"registry github.com/distribution/distribution/v3 v3.1.2\n": "v3.1.2",
		"registry version unknown":                                  "",
		"":                                                          "",
	} {
		if got := parseVersion(in); got != want {
			t.Errorf("parseVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStartPushStop(t *testing.T) {
	bin := os.Getenv(EnvBinary)
	if bin == "" {
		ci.Skipf(t, "%s is not set (make test sets it)", EnvBinary)
	}
	dir := t.TempDir()
	ctx := context.Background()
	r, err := Start(ctx, bin, dir, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ocitest.Push(ctx, r.Host, "t/m:1", oci.FormatCNCF, wasmtest.ProxyWasm); err != nil {
		t.Fatalf("push to %s: %v\n%s", r.Host, err, r.Tail(10))
	}
	if r.Version == "" {
		t.Errorf("no version read from %s --version", bin)
	}
	if err := r.Stop(10 * time.Second); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "storage", "docker")); err != nil {
		t.Errorf("nothing stored under %s: %v", dir, err)
	}
}
