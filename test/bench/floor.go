package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/render"
	"github.com/wasmext/wasmext/internal/testenv"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// floorResult is the floor for one N: the API server and registry work
// wasmext cannot avoid, done as fast as the bench's client can.
type floorResult struct {
	n, modules int
	elapsed    time.Duration // first create → last status update and last blob read
	creates    int64         // the bench's WasmExtension creates (not counted per object)
	writes     int64         // the writes wasmext needs per object: rendered create + status update
	registry   registryReads
	// meanLatency of the WasmExtension creates, TrafficExtension creates
	// and status updates.
	meanLatency [3]time.Duration
}

// registryReads are the floor's raw registry requests.
type registryReads struct{ manifests, blobs int64 }

// runFloor times, on a fresh control plane with the bench's high-QPS
// client: the N WasmExtension creates, for each a TrafficExtension create
// (render.TrafficExtension, as the operator renders with delivery Cache)
// and a status update to Ready; alongside, one manifest GET and one blob
// GET per module in use through the counting proxy.
func (b *bench) runFloor(ctx context.Context, n int) (_ *floorResult, err error) {
	fr := &floorResult{n: n, modules: len(b.mods)}
	fmt.Printf("\n--- N=%d, floor: starting control plane ... ", n)
	se, err := b.envs.start(testenv.Options{})
	if err != nil {
		return nil, err
	}
	env := se.env
	defer func() { err = errors.Join(err, env.Stop()) }()
	c, err := newClient(env)
	if err != nil {
		return nil, err
	}
	namespaces := make([]string, b.o.namespaces)
	for i := range namespaces {
		namespaces[i] = fmt.Sprintf("bench-%d", i)
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaces[i]}}); err != nil {
			return nil, err
		}
	}
	spec := specOpts{interval: b.o.interval}
	sums := moduleSums(len(b.mods))
	if err := b.floorWarmUp(ctx, c, namespaces[0], spec, sums); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	inUse := b.mods[:min(n, len(b.mods))]
	fmt.Printf("timing %d creates + %d writes and %d manifest + blob GETs ... ", n, 2*n, len(inUse))
	start := time.Now()
	var regErr error
	var wg sync.WaitGroup
	wg.Go(func() { fr.registry, regErr = readModules(ctx, b.proxy.Host, inUse, b.o.creators) })
	apiErr := b.floorWrites(ctx, c, namespaces, spec, sums, fr)
	wg.Wait()
	fr.elapsed = time.Since(start)
	b.envs.ahead() // nothing timed is left
	fmt.Printf("%s (mean latency: create %s, TrafficExtension create %s, status update %s)\n", dur(fr.elapsed),
		dur(fr.meanLatency[0]), dur(fr.meanLatency[1]), dur(fr.meanLatency[2]))
	return fr, errors.Join(apiErr, regErr)
}

// floorWrites does the API work of the floor with o.creators workers.
func (b *bench) floorWrites(ctx context.Context, c client.Client, namespaces []string, spec specOpts, sums []string, fr *floorResult) error {
	var next atomic.Int64
	var fc floorCounts
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range min(b.o.creators, fr.n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= fr.n || ctx.Err() != nil {
					return
				}
				ext := extension(i, namespaces[i%len(namespaces)], b.mods[i%len(b.mods)], spec)
				if _, err := floorOne(ctx, c, ext, b.renderModule(i, sums), &fc); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("floor object %d: %w", i, err))
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	fr.creates, fr.writes = fc.n[0].Load(), fc.n[1].Load()+fc.n[2].Load()
	for k := range fc.n {
		if n := fc.n[k].Load(); n > 0 {
			fr.meanLatency[k] = time.Duration(fc.ns[k].Load() / n)
		}
	}
	return errors.Join(errs...)
}

// moduleSums are the hex sha256 of the .wasm of the first n modules, as
// prepare pushed them (module i is wasmtest.Variant(i)).
func moduleSums(n int) []string {
	sums := make([]string, n)
	for i := range sums {
		s := sha256.Sum256(wasmtest.Variant(i))
		sums[i] = hex.EncodeToString(s[:])
	}
	return sums
}

// renderModule is what the operator would render extension i from, with
// delivery Cache.
func (b *bench) renderModule(i int, sums []string) render.Module {
	m, sum := b.mods[i%len(b.mods)], sums[i%len(b.mods)]
	return render.Module{Repository: b.proxy.Host + "/" + m.repo, Digest: m.digest.String(), SHA256: sum,
		CacheURL: "http://wasmext-modules.wasmext-system.svc:8082/sha256/" + sum + ".wasm"}
}

// floorWarmUp does floorOne once on a throwaway extension and deletes what
// it made, so the client's REST mappings and the API server's first writes
// of each kind are paid before the clock starts.
func (b *bench) floorWarmUp(ctx context.Context, c client.Client, ns string, spec specOpts, sums []string) error {
	ext := extension(0, ns, b.mods[0], spec)
	ext.Name = "bench-warm-up"
	var fc floorCounts
	te, err := floorOne(ctx, c, ext, b.renderModule(0, sums), &fc)
	if err != nil {
		return err
	}
	return errors.Join(c.Delete(ctx, te), c.Delete(ctx, ext))
}

// floorCounts count the floor's requests and add up their latencies, by
// kind: the WasmExtension create, the TrafficExtension create, the status
// update.
type floorCounts struct{ n, ns [3]atomic.Int64 }

// timed runs the request f of kind k and counts it when it succeeds.
func (fc *floorCounts) timed(k int, f func() error) error {
	t := time.Now()
	if err := f(); err != nil {
		return err
	}
	fc.n[k].Add(1)
	fc.ns[k].Add(int64(time.Since(t)))
	return nil
}

// floorOne creates ext, the TrafficExtension rendered from it, and updates
// the status of ext to Ready; it returns the TrafficExtension.
func floorOne(ctx context.Context, c client.Client, ext *v1alpha1.WasmExtension, mod render.Module, fc *floorCounts) (client.Object, error) {
	if err := fc.timed(0, func() error { return c.Create(ctx, ext) }); err != nil {
		return nil, err
	}
	te, err := render.TrafficExtension(ext, mod)
	if err != nil {
		return nil, err
	}
	rendered := v1alpha1.RenderedObject{APIVersion: te.APIVersion, Kind: te.Kind, Name: te.Name} // before Create clears the TypeMeta
	if err := fc.timed(1, func() error { return c.Create(ctx, te) }); err != nil {
		return nil, fmt.Errorf("creating the TrafficExtension: %w", err)
	}
	base := ext.DeepCopy()
	ext.Status.ObservedGeneration = ext.Generation
	for _, t := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionModuleFetched, v1alpha1.ConditionModuleValidated, v1alpha1.ConditionRendered} {
		meta.SetStatusCondition(&ext.Status.Conditions, metav1.Condition{Type: t, Status: metav1.ConditionTrue,
			Reason: v1alpha1.ReasonSucceeded, Message: "floor", ObservedGeneration: ext.Generation})
	}
	ext.Status.Rendered = []v1alpha1.RenderedObject{rendered}
	if err := fc.timed(2, func() error { return c.Status().Patch(ctx, ext, client.MergeFrom(base)) }); err != nil {
		return nil, fmt.Errorf("updating the status: %w", err)
	}
	return te, nil
}

// readModules GETs each module's manifest by tag and its one layer, as raw
// HTTP through host, up to workers modules at a time.
func readModules(ctx context.Context, host string, mods []module, workers int) (registryReads, error) {
	var manifests, blobs, next atomic.Int64
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range min(workers, len(mods)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(mods) && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				if err := readModule(ctx, host, mods[i], &manifests, &blobs); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return registryReads{manifests: manifests.Load(), blobs: blobs.Load()}, errors.Join(errs...)
}

// readModule GETs m's manifest by tag, then its one layer.
func readModule(ctx context.Context, host string, m module, manifests, blobs *atomic.Int64) error {
	var mf ocispec.Manifest
	if err := getJSON(ctx, fmt.Sprintf("http://%s/v2/%s/manifests/%s", host, m.repo, moduleTag), ocispec.MediaTypeImageManifest, &mf); err != nil {
		return err
	}
	manifests.Add(1)
	if len(mf.Layers) != 1 {
		return fmt.Errorf("%s: %d layers, want 1", m.repo, len(mf.Layers))
	}
	if err := drain(ctx, fmt.Sprintf("http://%s/v2/%s/blobs/%s", host, m.repo, mf.Layers[0].Digest)); err != nil {
		return err
	}
	blobs.Add(1)
	return nil
}

// drain GETs u and reads the body to the end.
func drain(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
