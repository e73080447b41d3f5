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
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		return nil, err
	}
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
	if _, err := warmUp(ctx, c, namespaces[0], b.mods[0], spec); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	inUse := b.mods[:min(n, len(b.mods))]
	fmt.Printf("timing %d creates + %d writes and %d manifest + blob GETs ... ", n, 2*n, len(inUse))
	start := time.Now()
	var regErr error
	var wg sync.WaitGroup
	wg.Go(func() { fr.registry, regErr = readModules(ctx, b.proxy.Host, inUse) })
	apiErr := b.floorWrites(ctx, c, namespaces, spec, fr)
	wg.Wait()
	fr.elapsed = time.Since(start)
	fmt.Printf("%s\n", dur(fr.elapsed))
	return fr, errors.Join(apiErr, regErr)
}

// floorWrites does the API work of the floor with o.creators workers.
func (b *bench) floorWrites(ctx context.Context, c client.Client, namespaces []string, spec specOpts, fr *floorResult) error {
	sums := make([]string, len(b.mods))
	for i := range sums {
		s := sha256.Sum256(wasmtest.Variant(i)) // what prepare pushed as module i
		sums[i] = hex.EncodeToString(s[:])
	}
	var next, creates, writes atomic.Int64
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
				m := b.mods[i%len(b.mods)]
				ext := extension(i, namespaces[i%len(namespaces)], m, spec)
				mod := render.Module{Repository: b.proxy.Host + "/" + m.repo, Digest: m.digest.String(), SHA256: sums[i%len(b.mods)],
					CacheURL: "http://wasmext-modules.wasmext-system.svc:8082/sha256/" + sums[i%len(b.mods)] + ".wasm"}
				if err := floorOne(ctx, c, ext, mod, &creates, &writes); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("floor object %d: %w", i, err))
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	fr.creates, fr.writes = creates.Load(), writes.Load()
	return errors.Join(errs...)
}

// floorOne creates ext, the TrafficExtension rendered from it, and updates
// its status to Ready.
func floorOne(ctx context.Context, c client.Client, ext *v1alpha1.WasmExtension, mod render.Module, creates, writes *atomic.Int64) error {
	if err := c.Create(ctx, ext); err != nil {
		return err
	}
	creates.Add(1)
	te, err := render.TrafficExtension(ext, mod)
	if err != nil {
		return err
	}
	if err := c.Create(ctx, te); err != nil {
		return fmt.Errorf("creating the TrafficExtension: %w", err)
	}
	writes.Add(1)
	ext.Status.ObservedGeneration = ext.Generation
	for _, t := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionModuleFetched, v1alpha1.ConditionModuleValidated, v1alpha1.ConditionRendered} {
		meta.SetStatusCondition(&ext.Status.Conditions, metav1.Condition{Type: t, Status: metav1.ConditionTrue,
			Reason: v1alpha1.ReasonSucceeded, Message: "floor", ObservedGeneration: ext.Generation})
	}
	ext.Status.Rendered = []v1alpha1.RenderedObject{{APIVersion: te.APIVersion, Kind: te.Kind, Name: te.Name}}
	if err := c.Status().Update(ctx, ext); err != nil {
		return fmt.Errorf("updating the status: %w", err)
	}
	writes.Add(1)
	return nil
}

// readModules GETs each module's manifest by tag and its one layer, as raw
// HTTP through host, in turn.
func readModules(ctx context.Context, host string, mods []module) (registryReads, error) {
	var rr registryReads
	for _, m := range mods {
		var mf ocispec.Manifest
		if err := getJSON(ctx, fmt.Sprintf("http://%s/v2/%s/manifests/%s", host, m.repo, moduleTag), ocispec.MediaTypeImageManifest, &mf); err != nil {
			return rr, err
		}
		rr.manifests++
		if len(mf.Layers) != 1 {
			return rr, fmt.Errorf("%s: %d layers, want 1", m.repo, len(mf.Layers))
		}
		if err := drain(ctx, fmt.Sprintf("http://%s/v2/%s/blobs/%s", host, m.repo, mf.Layers[0].Digest)); err != nil {
			return rr, err
		}
		rr.blobs++
	}
	return rr, nil
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
