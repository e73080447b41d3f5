package controllers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/verify"
	"github.com/wasmext/wasmext/internal/verify/verifytest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// TestVerifyCacheOnePerDigest: 8 extensions over 2 signed modules make
// exactly 2 signature checks (one referrers lookup per module, as many as
// one extension alone makes), and no more blob GETs per repository than a
// module with a single extension. Rotating the key Secret re-verifies, again
// once per module.
func TestVerifyCacheOnePerDigest(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	signer, pub := newKey(t)
	keySecret(t, ns, "keys", pub)
	repos := []string{"acme/shared-a", "acme/shared-b", "acme/solo"}
	for i, repo := range repos {
		d := pushT(t, reg, repo+":v1", oci.FormatCNCF, wasmtest.Variant(31+i))
		if err := verifytest.SignKeyBundle(context.Background(), reg.Host, repo, digest.Digest(d), signer); err != nil {
			t.Fatal(err)
		}
	}
	reg.Reset()
	names := map[string]string{"solo": "acme/solo"}
	for i := range 8 {
		names[fmt.Sprintf("shared-%d", i)] = repos[i%2]
	}
	for name, repo := range names {
		create(t, keyVerified(ns, name, reg.Ref(repo+":v1"), "keys"))
	}
	for name := range names {
		waitReady(t, ns, name)
	}
	solo := reg.CountsFor("acme/solo")
	if solo.Other == 0 || solo.BlobGET == 0 {
		t.Fatalf("solo counts %+v: want a referrers lookup and blob GETs (the counter counts)", solo)
	}
	for _, repo := range repos[:2] {
		c := reg.CountsFor(repo)
		if c.Other != solo.Other || c.BlobGET != solo.BlobGET {
			t.Fatalf("%s with 4 extensions: %+v; want the referrers lookups and blob GETs of one extension %+v", repo, c, solo)
		}
	}

	reg.Reset()
	_, otherPub := newKey(t)
	setKeys(t, ns, "keys", otherPub, pub)
	want := trustAfter(t, ns, "keys")
	eventually(t, "every extension verified against the rotated keys", func() error {
		for name := range names {
			v := reconciler.verifications.get(client.ObjectKey{Namespace: ns, Name: name})
			if v == nil || v.key.trust != want {
				return fmt.Errorf("%s verified with %+v, want trust %s", name, v, want)
			}
		}
		return nil
	})
	for _, repo := range repos {
		if c := reg.CountsFor(repo); c.Other != solo.Other {
			t.Fatalf("%s after the rotation: %+v; want %d referrers lookups (one check per module)", repo, c, solo.Other)
		}
	}
}

// trustAfter returns the trust version verify records for Secret name.
func trustAfter(t *testing.T, ns, name string) string {
	t.Helper()
	var s corev1.Secret
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		t.Fatal(err)
	}
	return name + "=" + s.ResourceVersion
}

// TestVerifyCacheKeepsOnlySuccesses: a passed check is reused for its key
// only; a failed one is not kept; the key changes with every part of the
// trust material and with the digest.
func TestVerifyCacheKeepsOnlySuccesses(t *testing.T) {
	var c verifyCache
	checks := 0
	pass := func() (verify.Result, error) { checks++; return verify.Result{VerifiedBy: "key"}, nil }
	fail := func() (verify.Result, error) { checks++; return verify.Result{}, verify.ErrSignatureInvalid }
	d := digest.FromString("module")
	keys := trustMaterial{id: materialID("key", []byte("a"))}
	k := verifyCacheKey("reg/acme/m", d, keys)

	if _, _, err := c.verify(k, fail); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("failed check returned %v", err)
	}
	for range 3 {
		if res, _, err := c.verify(k, pass); err != nil || res.VerifiedBy != "key" {
			t.Fatalf("verify = %+v, %v", res, err)
		}
	}
	if checks != 2 {
		t.Fatalf("%d checks, want 2 (the failure is not kept, the success is)", checks)
	}
	others := []string{
		verifyCacheKey("reg/acme/m", digest.FromString("other"), keys),
		verifyCacheKey("reg/acme/other", d, keys),
		verifyCacheKey("reg/acme/m", d, trustMaterial{id: materialID("key", []byte("a"), []byte("b"))}),
		verifyCacheKey("reg/acme/m", d, trustMaterial{id: materialID("key", []byte("ab"))}),
		verifyCacheKey("reg/acme/m", d, trustMaterial{id: materialID("keyless", []byte("a"))}),
	}
	for _, o := range others {
		if _, checked, _ := c.verify(o, pass); !checked {
			t.Fatalf("key %s reused the result of %s", o, k)
		}
	}
}

// countingReader counts the reads that reach the API server (the
// reconciler's uncached reader).
type countingReader struct {
	client.Reader
	gets atomic.Int64
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets.Add(1)
	return c.Reader.Get(ctx, key, obj, opts...)
}

// verifyBench is a reconciler whose cached client is a fake holding one key
// Secret, and whose uncached reader counts its reads, over modules signed
// in a real registry.
type verifyBench struct {
	r      *WasmExtensionReconciler
	api    *countingReader
	cached client.Client
	reg    *ocitest.Registry
	repos  []string
	digest map[string]digest.Digest
}

// newVerifyBench pushes and signs n modules (and a solo one) with one key
// held by Secret keys in namespace ns.
func newVerifyBench(t *testing.T, ns string, n int) *verifyBench {
	t.Helper()
	b := &verifyBench{reg: ocitest.NewRegistry(t), digest: map[string]digest.Digest{}}
	signer, pub := newKey(t)
	for i := range n + 1 {
		repo := fmt.Sprintf("acme/many-%02d", i)
		d := digest.Digest(pushT(t, b.reg, repo+":v1", oci.FormatCNCF, wasmtest.Variant(200+i)))
		if err := verifytest.SignKeyBundle(context.Background(), b.reg.Host, repo, d, signer); err != nil {
			t.Fatal(err)
		}
		b.repos, b.digest[repo] = append(b.repos, repo), d
	}
	b.reg.Reset() // the pushes and signatures are not the operator's
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "keys", UID: types.UID(ns + "-keys")},
		Data: map[string][]byte{"cosign.pub": pub, "cosign.key": []byte("not public")}}
	b.cached = fake.NewClientBuilder().WithScheme(testScheme).WithObjects(secret).Build()
	b.api = &countingReader{Reader: b.cached}
	b.r = &WasmExtensionReconciler{Client: b.cached, APIReader: b.api,
		Fetcher: oci.NewFetcher(oci.Options{MaxModuleSize: 4 << 20})}
	return b
}

// verifyOne runs the verify step for extension name of repo.
func (b *verifyBench) verifyOne(ctx context.Context, ns, name, repo string) error {
	ref := b.reg.Ref(repo + ":v1")
	ext := keyVerified(ns, name, ref, "keys")
	ext.Generation = 1
	s := &scope{ext: ext, now: time.Now(), request: oci.Request{Image: ref, Insecure: true},
		resolved: oci.Resolved{Repository: b.reg.Host + "/" + repo, Digest: b.digest[repo]}}
	if err := b.r.verify(ctx, s); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if s.verified == nil {
		return fmt.Errorf("%s: not verified", name)
	}
	return nil
}

// verifyAll verifies n extensions over the first modules repos, 8 at once
// (as --concurrent 8 does).
func (b *verifyBench) verifyAll(t *testing.T, ns string, n, modules int) {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(8)
	for i := range n {
		g.Go(func() error {
			return b.verifyOne(context.Background(), ns, fmt.Sprintf("ext-%03d", i), b.repos[i%modules])
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// checksPer asserts that every module of the first ones had exactly
// perCheck referrers lookups (one signature check each), then resets.
func (b *verifyBench) checksPer(t *testing.T, modules int, perCheck int64, when string) {
	t.Helper()
	for _, repo := range b.repos[:modules] {
		if c := b.reg.CountsFor(repo); c.Other != perCheck {
			t.Fatalf("%s: %s had %d referrers lookups, want %d (one signature check)", when, repo, c.Other, perCheck)
		}
	}
	b.reg.Reset()
}

// TestVerifyManyOneSecretRead: 500 extensions over 20 signed modules under
// one key Secret make 20 signature checks and one uncached Secret read (the
// Secret's version, from the metadata cache, finds the kept keys). A second
// pass makes none of either. A rotated key Secret (a new resourceVersion)
// is read once more and checks each module once more.
func TestVerifyManyOneSecretRead(t *testing.T) {
	const n, modules = 500, 20
	ns := "many-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	b := newVerifyBench(t, ns, modules)
	solo := b.repos[modules]
	if err := b.verifyOne(context.Background(), ns, "solo", solo); err != nil {
		t.Fatal(err)
	}
	perCheck := b.reg.CountsFor(solo).Other
	if perCheck == 0 || b.api.gets.Load() != 1 {
		t.Fatalf("one extension: %d referrers lookups, %d Secret reads; want some and 1 (the counters count)", perCheck, b.api.gets.Load())
	}
	b.reg.Reset()

	b.verifyAll(t, ns, n, modules)
	if got := b.api.gets.Load(); got != 1 {
		t.Fatalf("%d extensions made %d uncached Secret reads in all, want the solo one's 1", n, got)
	}
	b.checksPer(t, modules, perCheck, "first pass")
	b.verifyAll(t, ns, n, modules)
	if got := b.api.gets.Load(); got != 1 {
		t.Fatalf("second pass: %d Secret reads in all, want still 1", got)
	}
	b.checksPer(t, modules, 0, "second pass")

	var s corev1.Secret
	if err := b.cached.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "keys"}, &s); err != nil {
		t.Fatal(err)
	}
	_, otherPub := newKey(t)
	s.Data["other.pub"] = otherPub
	if err := b.cached.Update(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	b.verifyAll(t, ns, n, modules)
	if got := b.api.gets.Load(); got != 2 {
		t.Fatalf("after the rotation: %d Secret reads in all, want 2 (one more)", got)
	}
	b.checksPer(t, modules, perCheck, "after the rotation")
}

// TestTrustPartCache: a Secret version is read once and its part kept, a
// config error with it (deterministic at that version); a failed read is
// not kept; a read that returns a newer version than the metadata cache
// named keeps the part under the newer one; a part larger than the byte
// budget is not kept.
func TestTrustPartCache(t *testing.T) {
	var c trustPartCache
	reads := 0
	secretAt := func(uid types.UID, rv string, data map[string][]byte) func() (*corev1.Secret, error) {
		return func() (*corev1.Secret, error) {
			reads++
			return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "k", UID: uid, ResourceVersion: rv}, Data: data}, nil
		}
	}
	v1 := trustSecret{name: "k", uid: "u1", resourceVersion: "1"}
	_, pub := newKey(t)
	for range 3 {
		p, err := c.get("keys", "ns", v1, secretAt("u1", "1", map[string][]byte{"a.pub": pub}), keysPart)
		if err != nil || len(p.keys) != 1 || p.id == "" {
			t.Fatalf("part = %+v, %v", p, err)
		}
	}
	empty := trustSecret{name: "k", uid: "u1", resourceVersion: "2"}
	for range 2 {
		if p, _ := c.get("keys", "ns", empty, secretAt("u1", "2", map[string][]byte{"cosign.key": []byte("x")}), keysPart); !errors.Is(p.err, errVerifyConfig) {
			t.Fatalf("Secret without a public key: part err %v, want errVerifyConfig", p.err)
		}
	}
	if reads != 2 {
		t.Fatalf("%d reads for two versions asked 5 times, want 2", reads)
	}
	failing := func() (*corev1.Secret, error) { reads++; return nil, errSecretRead }
	v3 := trustSecret{name: "k", uid: "u1", resourceVersion: "3"}
	for range 2 {
		if _, err := c.get("keys", "ns", v3, failing, keysPart); !errors.Is(err, errSecretRead) {
			t.Fatalf("failed read returned %v", err)
		}
	}
	// The metadata cache lags: it names version 3, the read returns 4.
	if _, err := c.get("keys", "ns", v3, secretAt("u1", "4", map[string][]byte{"a.pub": pub}), keysPart); err != nil {
		t.Fatal(err)
	}
	v4 := trustSecret{name: "k", uid: "u1", resourceVersion: "4"}
	if _, err := c.get("keys", "ns", v4, failing, keysPart); err != nil {
		t.Fatalf("version 4 was read again (%v); want it kept", err)
	}
	if reads != 5 {
		t.Fatalf("%d reads, want 5 (failed reads are not kept, version 4 is)", reads)
	}
	huge := trustSecret{name: "root", uid: "u2", resourceVersion: "1"}
	big := map[string][]byte{TrustedRootKey: make([]byte, trustPartsBytes+1)}
	for range 2 {
		if _, err := c.get("root", "ns", huge, secretAt("u2", "1", big), rootPart); err != nil {
			t.Fatal(err)
		}
	}
	if reads != 7 || c.bytes.Load() > trustPartsBytes {
		t.Fatalf("%d reads, %d bytes kept; want 7 (a part over the budget is not kept) within %d", reads, c.bytes.Load(), trustPartsBytes)
	}
	if _, err := c.get("keys", "ns", v1, failing, keysPart); err != nil {
		t.Fatalf("version 1 was evicted by the part over the budget (%v)", err)
	}
}
