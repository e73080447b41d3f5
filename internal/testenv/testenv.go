// Package testenv starts a real kube-apiserver and etcd (controller-runtime's envtest) with the
// CRDs wasmext works with installed: its own (config/crd/bases) and Istio's, taken verbatim from
// the istio.io/api module so that rendered objects are validated by Istio's real schemas.
//
// It is shared by envtest-based tests, the demo (test/demo) and the benchmark (test/bench).
// It owns starting, configuring and stopping the control plane; it must not know about
// controllers, registries or anything else under test.
//
// Binaries come from KUBEBUILDER_ASSETS when set (`make test` sets it), otherwise from
// hack/envtest-bins.sh, which builds them from Go modules on first use (~10 min cold).
package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ModulePath is the Go module path of the repository; Start looks for the go.mod declaring it.
const ModulePath = "github.com/wasmext/wasmext"

// Names of Istio CRDs, for Options.SkipIstioCRDs.
const (
	CRDTrafficExtension = "trafficextensions.extensions.istio.io"
	CRDWasmPlugin       = "wasmplugins.extensions.istio.io"
	CRDEnvoyFilter      = "envoyfilters.networking.istio.io"
)

// Options tune Start. The zero value installs every CRD.
type Options struct {
	// SkipIstioCRDs names Istio CRDs (e.g. CRDTrafficExtension) not to install, to test how the
	// operator behaves on clusters that lack them.
	SkipIstioCRDs []string
	// NoIstioCRDs installs no Istio CRD at all.
	NoIstioCRDs bool
	// ExtraCRDPaths are more CRD files or directories to install.
	ExtraCRDPaths []string
	// StartTimeout bounds the start of etcd and kube-apiserver each (default 60s: the
	// envtest default of 20s is tight on 2 busy cores running test packages in parallel).
	StartTimeout time.Duration
	// AttachControlPlaneOutput streams the control plane's logs to this process' stdout/stderr.
	// KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT=true does the same.
	AttachControlPlaneOutput bool
}

// Env is a running control plane.
type Env struct {
	// Config reaches the apiserver as an administrator (group system:masters).
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for the same administrator, e.g. for
	// `kubectl --kubeconfig` or a child process. It lives until Stop.
	Kubeconfig string
	// RepoRoot is the directory of the repository's go.mod.
	RepoRoot string
	// CRDs are the CustomResourceDefinitions installed.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// Environment is the underlying envtest environment.
	Environment *envtest.Environment

	dir string
}

// Start starts etcd and kube-apiserver, installs the CRDs and waits until they are served.
func Start(opts Options) (*Env, error) { return StartConfigured(opts, nil) }

// Stop stops the control plane and removes the kubeconfig file.
func (e *Env) Stop() error {
	err := e.Environment.Stop()
	if e.dir != "" {
		err = errors.Join(err, os.RemoveAll(e.dir))
	}
	return err
}

func (e *Env) writeKubeconfig() error {
	user, err := e.Environment.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding kubeconfig user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("rendering kubeconfig: %w", err)
	}
	if e.dir, err = os.MkdirTemp("", "wasmext-testenv-"); err != nil {
		return err
	}
	e.Kubeconfig = filepath.Join(e.dir, "kubeconfig")
	return os.WriteFile(e.Kubeconfig, kc, 0o600)
}

// RepoRoot walks up from the working directory to the go.mod of this repository.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declaresModule(b, ModulePath) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod of %s found above %s", ModulePath, wd)
		}
	}
}

func declaresModule(gomod []byte, path string) bool {
	s := bufio.NewScanner(bytes.NewReader(gomod))
	for s.Scan() {
		if f := strings.Fields(s.Text()); len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == path
		}
	}
	return false
}

// binaryAssets returns KUBEBUILDER_ASSETS, or the directory hack/envtest-bins.sh prints
// (building the binaries when they are missing).
func binaryAssets(root string) (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	cmd := exec.Command("bash", filepath.Join(root, "hack", "envtest-bins.sh"))
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/envtest-bins.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	if dir == "" {
		return "", errors.New("hack/envtest-bins.sh printed no directory")
	}
	return dir, nil
}

// istioCRDs reads kubernetes/customresourcedefinitions.gen.yaml of the istio.io/api module the
// root module depends on, leaving out the CRDs named in skip.
func istioCRDs(root string, skip []string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dir, err := moduleDir(root, "istio.io/api")
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, "kubernetes", "customresourcedefinitions.gen.yaml"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	crds, err := decodeCRDs(f)
	if err != nil {
		return nil, fmt.Errorf("reading Istio CRDs from %s: %w", f.Name(), err)
	}
	skipped := map[string]bool{}
	for _, n := range skip {
		skipped[n] = true
	}
	kept := crds[:0]
	for _, c := range crds {
		if !skipped[c.Name] {
			kept = append(kept, c)
		}
		delete(skipped, c.Name)
	}
	if len(skipped) > 0 {
		unknown := make([]string, 0, len(skipped))
		for n := range skipped {
			unknown = append(unknown, n)
		}
		sort.Strings(unknown)
		return nil, fmt.Errorf("SkipIstioCRDs: not Istio CRDs of %s: %s", dir, strings.Join(unknown, ", "))
	}
	return kept, nil
}

func decodeCRDs(r io.Reader) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var crds []*apiextensionsv1.CustomResourceDefinition
	for {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := dec.Decode(crd); errors.Is(err, io.EOF) {
			return crds, nil
		} else if err != nil {
			return nil, err
		}
		if crd.Kind != "CustomResourceDefinition" { // empty documents, comments
			continue
		}
		crds = append(crds, crd)
	}
}

// moduleDir returns the directory of module mod as required by the module in root,
// downloading it into the module cache if needed.
func moduleDir(root, mod string) (string, error) {
	list := func() (string, error) {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod)
		cmd.Dir = root
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	dir, err := list()
	if err == nil && dir == "" { // in the build list but not yet in the module cache
		cmd := exec.Command("go", "mod", "download", mod)
		cmd.Dir, cmd.Stderr = root, os.Stderr
		if err = cmd.Run(); err == nil {
			dir, err = list()
		}
	}
	if err != nil {
		return "", fmt.Errorf("locating module %s (go list -m in %s): %w", mod, root, err)
	}
	if dir == "" {
		return "", fmt.Errorf("locating module %s (go list -m in %s): not in the module cache", mod, root)
	}
	return dir, nil
}
