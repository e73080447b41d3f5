package crash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmext/wasmext/internal/testenv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/controllers"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// The rollout: nExtensions extensions over nModules modules, spread over
// nNamespaces namespaces.
const (
	nExtensions = 200
	nModules    = 10
	nNamespaces = 4
)

// sampleHost is the registry host the samples name; the test rewrites it to
// its registry's.
const sampleHost = "localhost:5000"

// fleet is what the test applied: the modules it pushed and the module
// each extension names now.
type fleet struct {
	mods    []module // the rollout's modules
	want    map[types.NamespacedName]module
	rollout []types.NamespacedName // the rollout's extensions, in order
	// legacy are the extensions created with the finalizer of earlier
	// versions (every other one): the operator must delete what they
	// rendered, through kills; what the others rendered is the garbage
	// collector's (owner references; envtest runs none).
	legacy map[types.NamespacedName]bool
}

// push pushes wasm to the registry as a CNCF Wasm artifact at repoTag.
func (h *harness) push(ctx context.Context, repoTag string, wasm []byte) (module, error) {
	dg, err := ocitest.Push(ctx, h.reg.Host, repoTag, oci.FormatCNCF, wasm)
	if err != nil {
		return module{}, fmt.Errorf("pushing %s: %w", repoTag, err)
	}
	sum := sha256.Sum256(wasm)
	repo, _, _ := strings.Cut(repoTag, ":")
	return module{image: h.reg.Host + "/" + repoTag, repo: h.reg.Host + "/" + repo, digest: dg.String(), sha256: hex.EncodeToString(sum[:])}, nil
}

// newFleet pushes the rollout's modules: distinct valid Proxy-Wasm modules
// (wasmtest.Variant), one repository each.
func (h *harness) newFleet(ctx context.Context) (*fleet, error) {
	f := &fleet{want: map[types.NamespacedName]module{}, legacy: map[types.NamespacedName]bool{}}
	for i := range nModules {
		m, err := h.push(ctx, fmt.Sprintf("crash/mod-%d:v1", i), wasmtest.Variant(i))
		if err != nil {
			return nil, err
		}
		f.mods = append(f.mods, m)
	}
	return f, nil
}

// applySamples pushes the Proxy-Wasm module to every image the samples of
// config/samples name (on the test's registry), `kubectl apply`s them in
// namespace default and `kubectl wait`s for Ready.
func (h *harness) applySamples(ctx context.Context, f *fleet) (int, error) {
	files, err := filepath.Glob(filepath.Join(h.env.RepoRoot, "config", "samples", "*.yaml"))
	if err != nil {
		return 0, err
	}
	dir := filepath.Join(h.work, "samples")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	n := 0
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			return 0, err
		}
		raw = bytes.ReplaceAll(raw, []byte(sampleHost), []byte(h.reg.Host))
		added, err := h.pushSampleModules(ctx, raw, f)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", file, err)
		}
		n += added
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(file)), raw, 0o644); err != nil {
			return 0, err
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("no WasmExtension in %s", filepath.Dir(files[0]))
	}
	if _, err := h.kubectl(ctx, "apply", "--namespace=default", "--filename="+dir); err != nil {
		return 0, err
	}
	_, err = h.kubectl(ctx, "wait", "--namespace=default", "--for=condition=Ready", "wasmextensions", "--all", "--timeout=120s")
	return n, err
}

// pushSampleModules pushes wasmtest.ProxyWasm to each image the
// WasmExtensions of raw name, records them in f and counts them.
func (h *harness) pushSampleModules(ctx context.Context, raw []byte, f *fleet) (int, error) {
	objs, err := testenv.DecodeObjects(bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range objs {
		if u.GetKind() != "WasmExtension" {
			continue
		}
		img, _, _ := unstructured.NestedString(u.Object, "spec", "module", "image")
		repoTag, ok := strings.CutPrefix(img, h.reg.Host+"/")
		if !ok {
			return 0, fmt.Errorf("sample %s names image %q, not one on %s", u.GetName(), img, sampleHost)
		}
		m, err := h.push(ctx, repoTag, wasmtest.ProxyWasm)
		if err != nil {
			return 0, err
		}
		ns := u.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		f.want[types.NamespacedName{Namespace: ns, Name: u.GetName()}] = m
		n++
	}
	return n, nil
}

// namespace returns the namespace of rollout extension i.
func namespace(i int) string { return fmt.Sprintf("crash-%d", i%nNamespaces) }

// writeRollout writes the namespaces and the rollout's extensions into a
// file for kubectl and records them in f; extension i names module
// i % nModules.
func (h *harness) writeRollout(f *fleet) (string, error) {
	var b strings.Builder
	for i := range nNamespaces {
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n", namespace(i))
	}
	for i := range nExtensions {
		key := types.NamespacedName{Namespace: namespace(i), Name: fmt.Sprintf("ext-%03d", i)}
		m := f.mods[i%nModules]
		finalizers := "[]"
		if i%2 == 0 {
			finalizers, f.legacy[key] = "["+controllers.Finalizer+"]", true
		}
		fmt.Fprintf(&b, `apiVersion: wasmext.io/v1alpha1
kind: WasmExtension
metadata:
  name: %s
  namespace: %s
  finalizers: %s
spec:
  module:
    image: %s
    insecure: true
  output: WasmPlugin
  delivery: Cache
  selector:
    matchLabels:
      app: %s
---
`, key.Name, key.Namespace, finalizers, m.image, key.Name)
		f.want[key] = m
		f.rollout = append(f.rollout, key)
	}
	file := filepath.Join(h.work, "rollout.yaml")
	return file, os.WriteFile(file, []byte(b.String()), 0o644)
}

// change points n random extensions among keys at another module (a new
// generation each) and returns their resourceVersions after the update.
func (h *harness) change(ctx context.Context, rng *rand.Rand, f *fleet, keys []types.NamespacedName, n int) (map[types.NamespacedName]string, error) {
	rvs := map[types.NamespacedName]string{}
	for range min(n, len(keys)) {
		key := keys[rng.IntN(len(keys))]
		cur := 0
		for i, m := range f.mods {
			if m.image == f.want[key].image {
				cur = i
			}
		}
		next := f.mods[(cur+1+rng.IntN(nModules-1))%nModules]
		ext := &v1alpha1.WasmExtension{}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := h.c.Get(ctx, key, ext); err != nil {
				return err
			}
			ext.Spec.Module.Image = next.image
			return h.c.Update(ctx, ext)
		})
		if err != nil {
			return nil, fmt.Errorf("pointing %s at %s: %w", key, next.image, err)
		}
		f.want[key], rvs[key] = next, ext.ResourceVersion
	}
	return rvs, nil
}
