// Package distribution runs the CNCF distribution registry (`registry
// serve`, built from its Go module into bin/registry by `make registry`) as
// a child process for the controllers' outage tests and the programs under
// test/: filesystem storage in a directory of the caller's, plain HTTP on a
// loopback port (free, or the one it had before a stop), no
// authentication, started and stopped through internal/testenv/proc.
//
// It owns the registry's configuration file and its readiness. It must not
// know what is pushed to it or who pulls.
package distribution

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wasmext/wasmext/internal/testenv/proc"
)

// EnvBinary is the environment variable `make test` sets to the registry
// binary.
const EnvBinary = "WASMEXT_REGISTRY_BIN"

// Registry is a running distribution registry.
type Registry struct {
	*proc.Process
	// Host is "127.0.0.1:<port>", what image references name.
	Host string
	// Version is what `registry --version` prints as its version, e.g.
	// v3.1.2, or empty.
	Version string
}

// Start writes dir/config.yml, with storage in dir/storage, runs `bin serve`
// on a free loopback port with its log in dir/registry.log, and waits up to
// timeout for /v2/ to answer.
func Start(ctx context.Context, bin, dir string, timeout time.Duration) (*Registry, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	return StartAt(ctx, bin, dir, addr, timeout)
}

// StartAt is Start at addr: a registry stopped earlier starts again there
// with the same storage, as after an outage.
func StartAt(ctx context.Context, bin, dir, addr string, timeout time.Duration) (*Registry, error) {
	storage := filepath.Join(dir, "storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(conf, []byte(Config(storage, addr, rand.Text())), 0o644); err != nil {
		return nil, err
	}
	p, err := proc.Start(proc.Options{
		Name: "registry", Binary: bin, Args: []string{"serve", conf}, LogFile: filepath.Join(dir, "registry.log"),
		// No trace exporter: nothing to send traces to, and no noise about it.
		Env: []string{"OTEL_TRACES_EXPORTER=none"},
	})
	if err != nil {
		return nil, err
	}
	r := &Registry{Process: p, Host: addr, Version: version(ctx, bin)}
	err = p.WaitHTTP(ctx, "http://"+addr+"/v2/", 50*time.Millisecond, timeout)
	if errors.Is(err, proc.ErrExited) {
		return nil, fmt.Errorf("%w\n%s", err, p.Tail(10))
	}
	if err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("%w\n%s", err, p.Tail(10))
	}
	return r, nil
}

// Config is the registry's config.yml: filesystem storage under storage,
// deletes allowed, no upload purging, no access log, HTTP at addr with the
// given upload-state secret.
func Config(storage, addr, secret string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: %s
`, storage, addr, secret)
}

// version returns the version `bin --version` prints ("registry
// github.com/distribution/distribution/v3 v3.1.2"), or "".
func version(ctx context.Context, bin string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return ""
	}
	return parseVersion(string(out))
}

func parseVersion(out string) string {
	for _, s := range strings.Fields(out) {
		if strings.HasPrefix(s, "v") && strings.Count(s, ".") >= 2 {
			return s
		}
	}
	return ""
}
