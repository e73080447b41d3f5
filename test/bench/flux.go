package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/testenv/proc"
	"github.com/wasmext/wasmext/test/demo/operator"
)

// The peer: Flux source-controller, built by hack/tools/flux (make bench-flux).
const (
	fluxModule      = "github.com/fluxcd/source-controller"
	fluxToolsDir    = "hack/tools/flux"
	fluxToolchain   = "go1.27.3"
	fluxDefaultConc = 2 // source-controller's own --concurrent default
	fluxLogPrefix   = "flux-n"
	// fluxDefaultInterval is spec.interval when the extensions have none:
	// wasmext's default resync (10m), so neither re-pulls in the window.
	fluxDefaultInterval = 10 * time.Minute
)

// ociRepositoryGVK is the kind the peer reconciles.
var ociRepositoryGVK = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "OCIRepository"}

// peerOptions are the flags of the side-by-side comparison (-peer flux).
type peerOptions struct {
	name   string // "flux", or "" for the plain bench
	bin    string // source-controller binary
	crds   string // directory of source-controller's CRDs
	rounds int
	docs   string // Markdown report to write (empty: none)
}

func (p *peerOptions) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&p.name, "peer", "", "flux: measure wasmext, Flux source-controller at --concurrent 2 and at wasmext's -concurrent, and the floor, side by side in alternating rounds (make bench-flux)")
	fs.StringVar(&p.bin, "flux-bin", "", "with -peer flux: the source-controller binary (default bin/source-controller, built by make bench-flux)")
	fs.StringVar(&p.crds, "flux-crds", "", "with -peer flux: source-controller's CRD directory (default: config/crd/bases of the module hack/tools/flux requires)")
	fs.IntVar(&p.rounds, "rounds", 3, "with -peer: rounds per N; each figure is the median over the rounds")
	fs.StringVar(&p.docs, "docs", "", "with -peer: write the comparison as Markdown to this file (e.g. docs/benchmarks.md)")
}

func (p *peerOptions) check() error {
	switch {
	case p.name != "" && p.name != "flux":
		return fmt.Errorf("-peer: %q is not a known peer (flux)", p.name)
	case p.rounds < 1:
		return errors.New("-rounds must be positive")
	}
	return nil
}

// resolve fills in the default binary and CRD directory under root.
func (p *peerOptions) resolve(ctx context.Context, root string) error {
	if p.bin == "" {
		p.bin = filepath.Join(root, "bin", "source-controller")
	}
	if _, err := os.Stat(p.bin); err != nil {
		return fmt.Errorf("source-controller binary: %w (make bench-flux builds it)", err)
	}
	if p.crds == "" {
		dir, err := fluxModuleDir(ctx, filepath.Join(root, fluxToolsDir))
		if err != nil {
			return err
		}
		p.crds = filepath.Join(dir, "config", "crd", "bases")
	}
	if _, err := os.Stat(filepath.Join(p.crds, "source.toolkit.fluxcd.io_ocirepositories.yaml")); err != nil {
		return fmt.Errorf("-flux-crds: no OCIRepository CRD: %w", err)
	}
	return nil
}

// fluxModuleDir is the module cache directory of source-controller as the
// tools module in toolsDir requires it (downloaded if need be).
func fluxModuleDir(ctx context.Context, toolsDir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", fluxModule)
	cmd.Dir = toolsDir
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN="+fluxToolchain)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	dir := strings.TrimSpace(string(out))
	if err == nil && dir == "" {
		// go list leaves Dir empty for a module not yet downloaded.
		dl := exec.CommandContext(ctx, "go", "mod", "download", fluxModule)
		dl.Dir, dl.Env = toolsDir, cmd.Env
		if b, dlErr := dl.CombinedOutput(); dlErr != nil {
			return "", fmt.Errorf("go mod download %s (in %s): %w\n%s", fluxModule, toolsDir, dlErr, b)
		}
		return fluxModuleDir(ctx, toolsDir)
	}
	if err != nil {
		return "", fmt.Errorf("go list -m %s (in %s): %w\n%s", fluxModule, toolsDir, err, stderr.Bytes())
	}
	return dir, nil
}

// repoSpec says what one OCIRepository points at.
type repoSpec struct {
	host, repo, tag string        // the registry (plain HTTP), repository and tag
	interval        time.Duration // spec.interval
	verifySecret    string        // spec.verify.secretRef (empty: no verification)
}

// ociRepository is the OCIRepository for extension i: the same artifact as
// the WasmExtension ext-<i>, the Wasm layer copied as it is.
func ociRepository(i int, ns string, s repoSpec) *unstructured.Unstructured {
	spec := map[string]any{
		"url":      "oci://" + s.host + "/" + s.repo,
		"ref":      map[string]any{"tag": s.tag},
		"interval": s.interval.String(),
		"insecure": true,
		"layerSelector": map[string]any{
			"mediaType": oci.MediaTypeCNCFLayer, // the layer prepare pushes (oci.FormatCNCF)
			"operation": "copy",
		},
	}
	if s.verifySecret != "" {
		spec["verify"] = map[string]any{"provider": "cosign", "secretRef": map[string]any{"name": s.verifySecret}}
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(ociRepositoryGVK)
	u.SetName(fmt.Sprintf("ext-%04d", i))
	u.SetNamespace(ns)
	return u
}

// fluxArgs is source-controller's command line: every namespace, no leader
// election, storage in dir, its HTTP servers on the given loopback
// addresses, logs at error level like the operator's.
func fluxArgs(concurrent int, dir, storageAddr, metricsAddr, healthAddr string) []string {
	return []string{
		"--watch-all-namespaces=true",
		"--enable-leader-election=false",
		"--concurrent=" + strconv.Itoa(concurrent),
		"--storage-path=" + dir,
		"--storage-addr=" + storageAddr,
		"--storage-adv-addr=" + storageAddr,
		"--metrics-addr=" + metricsAddr,
		"--health-addr=" + healthAddr,
		"--log-level=error",
	}
}

// startFlux starts source-controller against kubeconfig and waits for its
// /readyz. The caller stops it.
func startFlux(ctx context.Context, bin, kubeconfig, work, logFile string, concurrent int) (p *operator.Process, metricsURL string, err error) {
	var addrs [3]string
	for i := range addrs {
		if addrs[i], err = proc.FreeAddr(); err != nil {
			return nil, "", err
		}
	}
	storage, err := os.MkdirTemp(work, "flux-storage-")
	if err != nil {
		return nil, "", err
	}
	args := fluxArgs(concurrent, storage, addrs[0], addrs[1], addrs[2])
	pp, err := proc.Start(proc.Options{Name: "source-controller", Binary: bin, Args: args,
		Env: []string{"KUBECONFIG=" + kubeconfig}, LogFile: logFile})
	if err != nil {
		return nil, "", err
	}
	p = &operator.Process{Process: pp, ProbeAddr: addrs[2], Args: args}
	if err := p.WaitHTTP(ctx, "http://"+addrs[2]+"/readyz", 200*time.Millisecond, 60*time.Second); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, "", fmt.Errorf("source-controller not ready: %w\n%s", err, p.Tail(30))
	}
	return p, "http://" + addrs[1] + "/metrics", nil
}
