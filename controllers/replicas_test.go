package controllers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/wasmext/wasmext/api/v1alpha1"
	"github.com/wasmext/wasmext/internal/cache"
	"github.com/wasmext/wasmext/internal/module"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/policy"
	"github.com/wasmext/wasmext/internal/verify/verifytest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// replica is a second operator process in the suite's cluster: its own
// manager (informer cache and field indexes, on every replica), a
// reconciler set up as in main.go that never becomes leader (another
// identity holds the Lease), so it never reconciles and never pulls, and
// its own module server with the suite's key and a fake clock.
type replica struct {
	mgr   ctrl.Manager
	r     *WasmExtensionReconciler
	clock *clocktesting.FakeClock
	pulls atomic.Int32 // modules its reconciler pulled: must stay 0
	srv   *cache.Server
	url   string // base URL srv is served at
}

const replicaGrace = 2 * time.Minute

// startReplica starts a replica whose module server keeps modules in store.
func startReplica(t *testing.T, ns string, store *cache.Store) *replica {
	t.Helper()
	holdLease(t, ns, "wasmext-replicas")
	served, err := ServedAtStart(testConfig)
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(testConfig, ctrl.Options{
		Scheme:                  testScheme,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		Cache:                   CacheOptions(served, nil),
		LeaderElection:          true,
		LeaderElectionID:        "wasmext-replicas",
		LeaderElectionNamespace: ns,
		Controller:              config.Controller{SkipNameValidation: ptr.To(true)}, // the suite's is "wasmextension" too
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := &replica{mgr: mgr, clock: clocktesting.NewFakeClock(time.Now())}
	fetcher := oci.NewFetcher(oci.Options{MaxModuleSize: 4 << 20})
	rep.r = &WasmExtensionReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("wasmext"),
		Resolver: fetcher, Fetcher: fetcher, Policy: policy.NewHolder(policy.Policy{}),
		Loader: module.NewLoader(fetcher, 64).KeepBytes(func(string, []byte) { rep.pulls.Add(1) }),
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := rep.r.SetupWithManager(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	rep.srv, rep.url = rep.serve(t, store)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("replica manager: %v", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("replica cache did not sync")
	}
	return rep
}

// serve starts a module server of the replica on store, as main.go wires
// one: a fresh one stands for the replica's module server after a restart.
func (rep *replica) serve(t *testing.T, store *cache.Store) (*cache.Server, string) {
	t.Helper()
	srv := &cache.Server{Store: store, Key: suiteModuleKey, Refill: rep.r.RefillModule, Grace: replicaGrace, Clock: rep.clock}
	if err := ServeRenderedModules(context.Background(), rep.mgr.GetCache(), srv); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts.URL
}

// holdLease makes another identity the leader of the Lease ns/name for an
// hour, so that a manager electing on it never leads.
func holdLease(t *testing.T, ns, name string) {
	t.Helper()
	now := metav1.NewMicroTime(time.Now())
	create(t, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("the-leader"), LeaseDurationSeconds: ptr.To[int32](3600),
			AcquireTime: &now, RenewTime: &now},
	})
}

// fetch GETs url and returns the status code and body.
func fetch(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// waitServed waits until url serves want.
func waitServed(t *testing.T, url string, want []byte) {
	t.Helper()
	eventually(t, "served "+url, func() error {
		if code, b := fetch(t, url); code != 200 || !bytes.Equal(b, want) {
			return fmt.Errorf("GET = %d with %d bytes, want 200 with the module's %d", code, len(b), len(want))
		}
		return nil
	})
}

// TestReplicas: a replica that is not the leader serves a module the
// leader pulled and rendered. Its first request misses, re-pulls the
// pinned digest from the registry with the extension's pull Secret, and
// serves it at the very path the leader rendered, then from its disk
// Store. After a restart a file corrupted on disk is refused and re-pulled.
func TestReplicas(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	reg.RequireAuth("robot", "s3cret")
	wasm := wasmtest.Variant(31)
	pushT(t, reg, "private/replicated:v1", oci.FormatCNCF, wasm, ocitest.Credential(credential("robot", "s3cret")))
	create(t, dockerSecret(ns, "regcred", reg.Host, "robot", "s3cret"))
	dir := t.TempDir()
	rep := startReplica(t, ns, openDiskStore(t, dir))

	ext := newExtension(ns, "replicated", reg.Ref("private/replicated:v1"))
	ext.Spec.Module.PullSecretRef = &v1alpha1.LocalObjectReference{Name: "regcred"}
	ext.Spec.Output = v1alpha1.OutputEnvoyFilter
	create(t, ext)
	sha := waitReady(t, ns, "replicated").Status.Module.SHA256
	reg.Reset()
	rendered := moduleServer.URL(moduleServerURL, sha)
	url := rep.url + strings.TrimPrefix(rendered, moduleServerURL)
	if url != rep.srv.URL(rep.url, sha) || rep.srv.Store.Len() != 0 {
		t.Fatalf("replica: URL %s, %d modules held; want the leader's path %s, none held", rep.srv.URL(rep.url, sha), rep.srv.Store.Len(), rendered)
	}
	waitServed(t, url, wasm) // 404 until the replica's informer has the status
	if c := reg.CountsFor("private/replicated"); c.BlobGET != 1 {
		t.Fatalf("replica's miss made %d blob GETs, want 1 (%+v)", c.BlobGET, c)
	}
	if n := rep.pulls.Load(); n != 0 {
		t.Fatalf("the replica's own reconciler pulled %d modules: it must not have run", n)
	}
	reg.Reset()
	if code, b := fetch(t, url); code != 200 || !bytes.Equal(b, wasm) || reg.CountsFor("private/replicated").Total != 0 {
		t.Fatalf("second GET = %d, registry %+v; want 200 from the Store, no registry request", code, reg.CountsFor("private/replicated"))
	}

	file := filepath.Join(dir, sha+".wasm")
	corrupted := bytes.Clone(wasm)
	corrupted[len(corrupted)-1] ^= 0xff
	if err := os.WriteFile(file, corrupted, 0o600); err != nil {
		t.Fatal(err)
	}
	restarted, base := rep.serve(t, openDiskStore(t, dir))
	reg.Reset()
	if code, b := fetch(t, restarted.URL(base, sha)); code != 200 || !bytes.Equal(b, wasm) {
		t.Fatalf("GET after restart with a corrupted file = %d with %d bytes; want 200 with the module", code, len(b))
	}
	if c := reg.CountsFor("private/replicated"); c.BlobGET != 1 {
		t.Fatalf("corrupted file: %d blob GETs, want 1 re-pull", c.BlobGET)
	}
	if got, err := os.ReadFile(file); err != nil || hexSHA(got) != sha {
		t.Fatalf("file not rewritten with the re-pulled module: %v", err)
	}
}

func openDiskStore(t *testing.T, dir string) *cache.Store {
	t.Helper()
	s, err := cache.OpenDiskStore(dir, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hexSHA(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestReplicaRefillChecksSignature: a replica re-pulling a module whose
// extension asks for a signature checks it again: once the key Secret no
// longer holds the signer's key, the refill fails (503) instead of serving.
func TestReplicaRefillChecksSignature(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	wasm := wasmtest.Variant(32)
	d := pushT(t, reg, "acme/signed:v1", oci.FormatCNCF, wasm)
	signer, pub := newKey(t)
	if err := verifytest.SignKeyBundle(context.Background(), reg.Host, "acme/signed", digest.Digest(d), signer); err != nil {
		t.Fatal(err)
	}
	keySecret(t, ns, "cosign-pub", pub)
	rep := startReplica(t, ns, cache.NewStore(64<<20))
	create(t, keyVerified(ns, "signed", reg.Ref("acme/signed:v1"), "cosign-pub"))
	sha := waitReady(t, ns, "signed").Status.Module.SHA256
	url := rep.srv.URL(rep.url, sha)
	waitServed(t, url, wasm)

	_, otherPub := newKey(t)
	secret := &corev1.Secret{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "cosign-pub"}, secret); err != nil {
		t.Fatal(err)
	}
	secret.Data = map[string][]byte{"key0.pub": otherPub}
	if err := k8s.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	fresh, base := rep.serve(t, cache.NewStore(64<<20)) // a restart: the module must be re-pulled
	if code, b := fetch(t, fresh.URL(base, sha)); code != http.StatusServiceUnavailable || bytes.Equal(b, wasm) {
		t.Fatalf("refill with the signer's key gone = %d; want 503, not the module", code)
	}
}
