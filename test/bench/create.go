package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/scheme"
	"github.com/wasmext/wasmext/internal/testenv"
)

func newClient(env *testenv.Env) (client.WithWatch, error) {
	s, err := scheme.New()
	if err != nil {
		return nil, err
	}
	cfg := *env.Config
	cfg.QPS, cfg.Burst = benchClientQPS, benchClientBurst
	cfg.UserAgent = "wasmext-bench"
	return client.NewWithWatch(&cfg, client.Options{Scheme: s})
}

// create creates n extensions with o.creators parallel clients' worth of
// requests; extension i uses module i % len(mods).
func create(ctx context.Context, c client.Client, o options, namespaces []string, mods []module, n int, spec specOpts) ([]time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	lat := make([]time.Duration, n)
	errs := make(chan error, o.creators)
	for range min(o.creators, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				if err := c.Create(ctx, extension(i, namespaces[i%len(namespaces)], mods[i%len(mods)], spec)); err != nil {
					errs <- fmt.Errorf("creating extension %d: %w", i, err)
					return
				}
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	close(errs)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, errors.Join(func() (all []error) {
		for err := range errs {
			all = append(all, err)
		}
		return
	}()...)
}

// warmUp creates and deletes one extension (no operator runs yet, so no
// finalizer holds it) and returns how long that took.
func warmUp(ctx context.Context, c client.Client, ns string, m module, spec specOpts) (time.Duration, error) {
	start := time.Now()
	ext := extension(0, ns, m, spec)
	ext.Name = "bench-warm-up"
	if err := c.Create(ctx, ext); err != nil {
		return 0, err
	}
	if err := c.Delete(ctx, ext); err != nil {
		return 0, err
	}
	for {
		err := c.Get(ctx, client.ObjectKeyFromObject(ext), ext)
		if apierrors.IsNotFound(err) {
			return time.Since(start), nil
		} else if err != nil {
			return 0, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settle scrapes the operator's metrics every 500ms until its API request
// and reconcile counters stop moving for 1.5s (at most 15s), and says how
// long that took. With queuedEvents, POSTs are left out: the operator POSTs
// only Events, and those it queues go out at --event-qps for as long as the
// queue takes (counted as the queue's length at the end instead).
func settle(ctx context.Context, hc *http.Client, url string, queuedEvents bool) time.Duration {
	start := time.Now()
	last, still := -1.0, 0
	for time.Since(start) < 15*time.Second && ctx.Err() == nil {
		m, err := scrape(ctx, hc, url)
		if err != nil {
			break
		}
		v := m.sum("rest_client_requests_total", nil) + m.sum("controller_runtime_reconcile_total", nil)
		if queuedEvents {
			v -= m.sum("rest_client_requests_total", map[string]string{"method": "POST"})
		}
		if v == last {
			if still++; still >= 3 {
				return time.Since(start) - 1500*time.Millisecond
			}
		} else {
			last, still = v, 0
		}
		time.Sleep(500 * time.Millisecond)
	}
	return time.Since(start)
}

// specOpts are the spec fields set on every extension of a run.
type specOpts struct {
	verify   bool          // spec.verify.cosign.publicKeySecretRef: keySecretName
	interval time.Duration // spec.module.interval (0: unset)
}

func extension(i int, ns string, m module, o specOpts) *v1alpha1.WasmExtension {
	prio := int32(i % 100)
	ext := &v1alpha1.WasmExtension{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ext-%04d", i), Namespace: ns},
		Spec: v1alpha1.WasmExtensionSpec{
			Module:       v1alpha1.ModuleSource{Image: m.image, Insecure: true},
			Selector:     &v1alpha1.WorkloadSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("app-%d", i)}},
			Phase:        v1alpha1.PhaseAuthn,
			Priority:     &prio,
			PluginConfig: &apiextensionsv1.JSON{Raw: fmt.Appendf(nil, `{"header":"x-bench","value":"%d"}`, i)},
		},
	}
	if o.verify {
		ext.Spec.Verify = &v1alpha1.Verification{Cosign: v1alpha1.CosignVerification{
			PublicKeySecretRef: &v1alpha1.LocalObjectReference{Name: keySecretName}}}
	}
	if o.interval > 0 {
		ext.Spec.Module.Interval = &metav1.Duration{Duration: o.interval}
	}
	return ext
}
