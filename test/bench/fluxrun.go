package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// runFlux measures source-controller at --concurrent concurrent on n
// OCIRepositories over mods, like runOne measures the operator: a fresh
// control plane, the process started before the objects are created, the
// same registry and counters, then an idle window of steady (0: none).
func (b *bench) runFlux(ctx context.Context, n int, mode runMode, concurrent int, steady time.Duration) (_ *result, err error) {
	x := &oneRun{bench: b, n: n, mode: mode, hc: &http.Client{},
		r: &result{n: n, modules: len(b.mods), verify: mode.verify, interval: b.o.interval, loadStart: loadavg()}}
	fmt.Printf("\n--- N=%d%s, Flux --concurrent=%d: starting control plane ... ", n, mode.label(), concurrent)
	se, err := b.envs.start(b.envOptions(sysFluxTuned))
	if err != nil {
		return nil, err
	}
	x.env, x.r.cpStart = se.env, se.waited
	defer func() { err = errors.Join(err, x.env.Stop()) }()
	if err := x.setUpFlux(ctx); err != nil {
		return nil, err
	}
	x.r.logFile = filepath.Join(b.o.work, fmt.Sprintf("%s%d-c%d.log", fluxLogPrefix, n, concurrent))
	fmt.Printf("%s; starting source-controller ... ", se)
	if x.op, x.metricsURL, err = startFlux(ctx, b.o.peer.bin, x.env.Kubeconfig, b.o.work, x.r.logFile, concurrent); err != nil {
		return nil, err
	}
	x.r.opArgs = x.op.Args
	defer func() {
		if stopErr := x.op.Stop(15 * time.Second); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping source-controller: %w\n%s", stopErr, x.op.Tail(20)))
		}
	}()
	fmt.Printf("ready (pid %d)\n", x.op.Pid)
	tr, err := watchObjects(ctx, x.c, ociRepositoryGVK, n)
	if err != nil {
		return nil, err
	}
	defer tr.stop()
	after, err := x.measureFluxPhase(ctx, tr)
	b.envs.ahead() // (a no-op unless the phase failed early)
	if err != nil {
		return nil, err
	}
	printPeerRun(x.r)
	if x.waitErr != nil {
		return x.r, fmt.Errorf("%w\n%s", x.waitErr, x.op.Tail(20))
	}
	if steady > 0 {
		return x.r, x.measureFluxSteady(ctx, tr, after, steady)
	}
	return x.r, nil
}

// setUpFlux creates the client, the namespaces (with the key Secret when
// verifying) and warms the API server up with one OCIRepository.
func (x *oneRun) setUpFlux(ctx context.Context) error {
	if err := x.setUpNamespaces(ctx); err != nil {
		return err
	}
	start := time.Now()
	warm := ociRepository(0, x.namespaces[0], x.repoSpec(0))
	warm.SetName("bench-warm-up")
	if err := x.c.Create(ctx, warm); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if err := x.c.Delete(ctx, warm); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	for {
		err := x.c.Get(ctx, client.ObjectKeyFromObject(warm), warm)
		if apierrors.IsNotFound(err) {
			x.r.warmup = time.Since(start)
			return nil
		} else if err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// repoSpec is what OCIRepository i points at: module i % len(mods) through
// the counting proxy, with the run's interval and verification.
func (x *oneRun) repoSpec(i int) repoSpec {
	m := x.mods[i%len(x.mods)]
	s := repoSpec{host: x.proxy.Host, repo: m.repo, tag: moduleTag, interval: fluxDefaultInterval}
	if x.o.interval > 0 {
		s.interval = x.o.interval
	}
	if x.mode.verify {
		s.verifySecret = keySecretName
	}
	return s
}

// moduleTag is the tag prepare pushes every module under.
const moduleTag = "1.0.0"

// measureFluxPhase creates the OCIRepositories, waits until all are Ready
// and source-controller has gone quiet, and records the phase in x.r.
func (x *oneRun) measureFluxPhase(ctx context.Context, tr *objTracker) (snapshot, error) {
	r := x.r
	x.reg.Reset()
	before, err := x.snap(ctx)
	if err != nil {
		return before, err
	}
	fmt.Printf("    creating %d OCIRepositories ... ", x.n)
	start := time.Now()
	if r.createLatency, err = createObjects(ctx, x.o.creators, x.n, func(i int) client.Object {
		return ociRepository(i, x.namespaces[i%len(x.namespaces)], x.repoSpec(i))
	}, x.c); err != nil {
		return before, err
	}
	r.created = time.Since(start)
	fmt.Printf("%s; waiting for Ready ... ", dur(r.created))
	x.waitErr = tr.wait(ctx, start, x.o.timeout, x.op.Exited())
	x.envs.ahead() // nothing timed is left: settling only counts
	if x.waitErr == nil {
		r.settle = settle(ctx, x.hc, x.metricsURL, false)
	}
	after, err := x.snap(ctx)
	if err != nil {
		return after, errors.Join(x.waitErr, err)
	}
	r.readyTimes = tr.readyTimes(start)
	r.notReady = tr.notReady()
	if x.waitErr == nil {
		r.allReady = r.readyTimes[len(r.readyTimes)-1]
		fmt.Printf("all Ready after %s\n", dur(r.allReady))
	} else {
		fmt.Printf("%v\n", x.waitErr)
	}
	r.phase = diff(before, after)
	delete(r.phase.apiServer, "ocirepositories POST") // the bench's creates
	r.sinceStart = after.usage
	for _, m := range x.mods[:min(x.n, len(x.mods))] {
		r.regPerDigest = append(r.regPerDigest, x.reg.CountsFor(m.repo))
	}
	return after, nil
}

// measureFluxSteady watches the idle source-controller for d.
func (x *oneRun) measureFluxSteady(ctx context.Context, tr *objTracker, after snapshot, d time.Duration) error {
	fmt.Printf("    steady state: watching for %s ... ", d)
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return ctx.Err()
	case <-x.op.Exited():
		return fmt.Errorf("source-controller exited during the steady window\n%s", x.op.Tail(20))
	}
	end, err := x.snap(ctx)
	if err != nil {
		return err
	}
	x.r.steady = diff(after, end)
	x.r.steadyDuration = d
	if lost := tr.lost(); lost > 0 {
		fmt.Printf("%d objects lost Ready!\n", lost)
	} else {
		fmt.Printf("done\n")
	}
	return nil
}

// createObjects creates n objects made by obj with up to workers parallel
// requests and returns the sorted create latencies.
func createObjects(ctx context.Context, workers, n int, obj func(i int) client.Object, c client.Client) ([]time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	lat := make([]time.Duration, n)
	var mu sync.Mutex
	var errs []error
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				if err := c.Create(ctx, obj(i)); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("creating object %d: %w", i, err))
					mu.Unlock()
					return
				}
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return lat, errors.Join(errs...)
}

// printPeerRun prints what one peer run measured beyond the report's figures.
func printPeerRun(r *result) {
	p, n := r.phase, float64(r.n)
	if len(r.readyTimes) > 0 {
		fmt.Printf("    Ready: first %s, p50 %s, p90 %s; settled %s later\n", secs(r.readyTimes[0]), secs(pct(r.readyTimes, 50)), secs(pct(r.readyTimes, 90)), dur(r.settle))
	}
	if len(r.notReady) > 0 {
		fmt.Printf("    not Ready by reason: %v\n", r.notReady)
	}
	fmt.Printf("    API requests %.0f (%.2f /object; by method: %s); writes, API server side: %s\n", p.apiTotal(), p.apiTotal()/n, kv(p.apiByMethod), kv(p.apiServer))
	rg := p.registry
	fmt.Printf("    registry %d: manifest HEAD %d, GET %d, blob GET %d, other %d; signature-related %d; CPU %.2f s; peak RSS %s; log %s\n",
		rg.Total, rg.ManifestHEAD, rg.ManifestGET, rg.BlobGET, rg.Other, p.sig.sig(), p.cpu.Seconds(), mib(r.sinceStart.PeakRSS), r.logFile)
}
