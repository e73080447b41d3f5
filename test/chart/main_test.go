package chart

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/internal/scheme"
	"github.com/wasmext/wasmext/internal/testenv"
	"github.com/wasmext/wasmext/internal/testenv/ci"
)

// EnvHelm names the helm binary; `make test` sets it to bin/helm.
const EnvHelm = "HELM_BIN"

var (
	env     *testenv.Env  // the envtest control plane; nil when helm is missing
	k8s     client.Client // an administrator's client to env
	helmBin string        // the helm binary; empty when missing
	helmDir string        // helm's config, cache and data homes (never the user's)
	chart   string        // the chart's directory
	root    string        // the repository root
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if root, err = testenv.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	chart = filepath.Join(root, "charts", "wasmext")
	if helmBin = findHelm(); helmBin == "" {
		return m.Run() // every test skips (or fails under CI=true) through needHelm
	}
	if helmDir, err = os.MkdirTemp("", "wasmext-chart-helm-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(helmDir) }()
	env, err = testenv.Start(testenv.Options{
		NoIstioCRDs:   true, // RBAC rules name Istio's groups; no Istio object is created
		ExtraCRDPaths: []string{filepath.Join(root, "test", "chart", "testdata", "servicemonitor-crd.yaml")},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	s, err := scheme.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if k8s, err = client.New(env.Config, client.Options{Scheme: s}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// findHelm returns $HELM_BIN, else the repository's bin/helm when it exists, else "".
func findHelm() string {
	if bin := os.Getenv(EnvHelm); bin != "" {
		return bin
	}
	if bin := filepath.Join(root, "bin", "helm"); isExecutable(bin) {
		return bin
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// needHelm skips t (fails it under CI=true) when there is no helm binary.
func needHelm(t *testing.T) {
	t.Helper()
	if helmBin == "" {
		ci.Skipf(t, "no helm: set $%s or run `make helm`", EnvHelm)
	}
}

// helm runs the helm binary with args against env's apiserver and returns its stdout; the
// error carries stderr.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	needHelm(t)
	cmd := exec.Command(helmBin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(helmDir, "config"),
		"HELM_CACHE_HOME="+filepath.Join(helmDir, "cache"),
		"HELM_DATA_HOME="+filepath.Join(helmDir, "data"),
		"KUBECONFIG="+env.Kubeconfig,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// mustHelm is helm that fails t on error.
func mustHelm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := helm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// valuesFile writes values (YAML) to a file for `helm --values` and returns its path.
func valuesFile(t *testing.T, values string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
