package controllers

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// TestCacheSyncCoversEveryWatch: when WaitForCacheSync (what /readyz
// asks) returns, every kind the controller watches has been listed, also
// before the controller itself starts (a replica that is not the leader
// never starts it). Without registerInformers only WasmExtensions were:
// the Secret, CRD and output informers came with the controller, and an
// extension created right after "ready" waited for them.
func TestCacheSyncCoversEveryWatch(t *testing.T) {
	ns := namespace(t)
	holdLease(t, ns, "wasmext-informers")
	served, err := ServedAtStart(testConfig)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	listed := map[string]bool{} // resource → listed or watched
	cfg := rest.CopyConfig(testConfig)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodGet { // a LIST, or a WATCH with sendInitialEvents (WatchListClient)
				parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
				mu.Lock()
				listed[parts[len(parts)-1]] = true
				mu.Unlock()
			}
			return rt.RoundTrip(req)
		})
	})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: testScheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache: CacheOptions(served, nil), LeaderElection: true, LeaderElectionID: "wasmext-informers", LeaderElectionNamespace: ns,
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &WasmExtensionReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader()}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	mu.Lock()
	defer mu.Unlock()
	var missing []string
	for _, res := range []string{"wasmextensions", "secrets", "customresourcedefinitions", "wasmplugins", "envoyfilters"} {
		if !listed[res] {
			missing = append(missing, res)
		}
	}
	if len(missing) > 0 {
		got := make([]string, 0, len(listed))
		for k := range listed {
			got = append(got, k)
		}
		sort.Strings(got)
		t.Fatalf("cache synced without listing %v (listed %v)", missing, got)
	}
}
