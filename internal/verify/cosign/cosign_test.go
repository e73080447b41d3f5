package cosign_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/verify"
	"github.com/wasmext/wasmext/internal/verify/cosign"
	"github.com/wasmext/wasmext/internal/verify/verifytest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

const (
	repo    = "acme/f"
	issuer  = "https://issuer.example"
	subject = "ci@acme.example"
)

// env is a registry with one pushed module.
type env struct {
	reg     *ocitest.Registry
	fetcher *oci.Fetcher
	target  verify.Target
	other   digest.Digest // a second module in the same repository
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	reg := ocitest.NewRegistry(t)
	d, err := ocitest.Push(ctx, reg.Host, repo+":v1", oci.FormatCNCF, wasmtest.ProxyWasm)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ocitest.Push(ctx, reg.Host, repo+":v2", oci.FormatCNCF, wasmtest.ProxyWasmV2)
	if err != nil {
		t.Fatal(err)
	}
	return &env{
		reg:     reg,
		fetcher: oci.NewFetcher(oci.Options{}),
		target:  verify.Target{Request: oci.Request{Image: reg.Ref(repo + ":v1"), Insecure: true}, Digest: d},
		other:   other,
	}
}

func newKey(t testing.TB, kt verifytest.KeyType) (verifytest.Signer, []byte) {
	t.Helper()
	k, pub, err := verifytest.NewKeyOf(kt)
	if err != nil {
		t.Fatal(err)
	}
	return k, pub
}

func fingerprint(t testing.TB, pubPEM []byte) string {
	t.Helper()
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

func keyVerifier(t testing.TB, e *env, pems ...[]byte) *cosign.Verifier {
	t.Helper()
	v, err := cosign.NewKeyVerifier(e.fetcher, pems)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, sentinel error, contains ...string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("err = %v, want %v", err, sentinel)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("err = %q, want it to contain %q", err, c)
		}
	}
}

// signFunc signs e.target's digest with k in one of the formats.
type signFunc func(ctx context.Context, host, repo string, d digest.Digest, k verifytest.Signer) error

var keyFormats = []struct {
	name   string
	sign   signFunc
	format string
}{
	{"bundle-dsse", verifytest.SignKeyBundle, verify.FormatBundleReferrer},
	{"bundle-message", verifytest.SignKeyMessageBundle, verify.FormatBundleReferrer},
	{"legacy", verifytest.SignKeyLegacy, verify.FormatCosignTag},
}

func TestKeyValid(t *testing.T) {
	keyTypes := []struct {
		name string
		kt   verifytest.KeyType
	}{
		{"p256", verifytest.ECDSAP256},
		{"p384", verifytest.ECDSAP384},
		{"ed25519", verifytest.Ed25519},
		{"rsa2048", verifytest.RSA2048},
	}
	for _, f := range keyFormats {
		for _, kt := range keyTypes {
			if f.name == "bundle-message" && kt.kt == verifytest.Ed25519 {
				// sigstore-go signs pure Ed25519 message signatures with no
				// digest algorithm, which its verifier then refuses; cosign
				// uses DSSE (or Ed25519ph) instead.
				continue
			}
			t.Run(f.name+"/"+kt.name, func(t *testing.T) {
				ctx := context.Background()
				e := newEnv(t)
				k, pub := newKey(t, kt.kt)
				must(t, f.sign(ctx, e.reg.Host, repo, e.target.Digest, k))
				res, err := keyVerifier(t, e, pub).Verify(ctx, e.target)
				must(t, err)
				want := verify.Result{VerifiedBy: "key " + fingerprint(t, pub), Method: verify.MethodCosignKey, Format: f.format}
				if res != want {
					t.Errorf("Verify = %+v, want %+v", res, want)
				}
			})
		}
	}
}

func TestKeySecondOfTwoMatches(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, pub1 := newKey(t, verifytest.ECDSAP256)
	k2, pub2 := newKey(t, verifytest.Ed25519)
	must(t, verifytest.SignKeyBundle(ctx, e.reg.Host, repo, e.target.Digest, k2))
	res, err := keyVerifier(t, e, pub1, pub2).Verify(ctx, e.target)
	must(t, err)
	if want := "key " + fingerprint(t, pub2); res.VerifiedBy != want {
		t.Errorf("VerifiedBy = %q, want %q", res.VerifiedBy, want)
	}
}

// One PEM value may hold several keys (a Secret key with a key ring).
func TestKeyRingInOnePEM(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, pub1 := newKey(t, verifytest.RSA2048)
	k2, pub2 := newKey(t, verifytest.ECDSAP384)
	must(t, verifytest.SignKeyLegacy(ctx, e.reg.Host, repo, e.target.Digest, k2))
	ring := append(append(append([]byte{}, pub1...), '\n'), pub2...)
	res, err := keyVerifier(t, e, ring).Verify(ctx, e.target)
	must(t, err)
	if want := "key " + fingerprint(t, pub2); res.VerifiedBy != want {
		t.Errorf("VerifiedBy = %q, want %q", res.VerifiedBy, want)
	}
}

func TestNoSignature(t *testing.T) {
	e := newEnv(t)
	_, pub := newKey(t, verifytest.ECDSAP256)
	_, err := keyVerifier(t, e, pub).Verify(context.Background(), e.target)
	wantErr(t, err, verify.ErrSignatureMissing, e.target.Digest.Encoded()+".sig")
}

func TestSignedWithAnotherKey(t *testing.T) {
	for _, f := range keyFormats {
		t.Run(f.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			k, _ := newKey(t, verifytest.ECDSAP256)
			_, pub := newKey(t, verifytest.ECDSAP256)
			must(t, f.sign(ctx, e.reg.Host, repo, e.target.Digest, k))
			_, err := keyVerifier(t, e, pub).Verify(ctx, e.target)
			wantErr(t, err, verify.ErrSignatureInvalid, "none of 1 signatures verifies")
		})
	}
}

// A valid signature of another digest, attached to this one, is refused.
func TestSignatureForOtherDigest(t *testing.T) {
	ctx := context.Background()
	k, pub := newKey(t, verifytest.ECDSAP256)
	t.Run("bundle", func(t *testing.T) {
		e := newEnv(t)
		b, err := verifytest.KeyBundle(e.other, k)
		must(t, err)
		must(t, verifytest.AttachBundle(ctx, e.reg.Host, repo, e.target.Digest, b))
		_, err = keyVerifier(t, e, pub).Verify(ctx, e.target)
		wantErr(t, err, verify.ErrSignatureInvalid, "digest")
	})
	t.Run("message-bundle", func(t *testing.T) {
		e := newEnv(t)
		m, err := verifytest.FetchManifest(ctx, e.reg.Host, repo, e.other)
		must(t, err)
		b, err := verifytest.KeyMessageBundle(m, k)
		must(t, err)
		must(t, verifytest.AttachBundle(ctx, e.reg.Host, repo, e.target.Digest, b))
		_, err = keyVerifier(t, e, pub).Verify(ctx, e.target)
		wantErr(t, err, verify.ErrSignatureInvalid, "bundle signs "+e.other.String())
	})
	t.Run("legacy", func(t *testing.T) {
		e := newEnv(t)
		// Sign v2's digest, then copy the layer under v1's .sig tag.
		p := verifytest.SimpleSigningPayload(e.reg.Host+"/"+repo, e.other)
		sig, _, err := k.SignData(ctx, p)
		must(t, err)
		must(t, verifytest.AttachLegacy(ctx, e.reg.Host, repo, e.target.Digest, p,
			map[string]string{verifytest.AnnotationSignature: base64.StdEncoding.EncodeToString(sig)}))
		_, err = keyVerifier(t, e, pub).Verify(ctx, e.target)
		wantErr(t, err, verify.ErrSignatureInvalid, "signature is for "+e.other.String())
	})
}

// A DSSE bundle of another predicate type (an SBOM, provenance) is an
// attestation, not a signature.
func TestAttestationIsNotASignature(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	k, pub := newKey(t, verifytest.ECDSAP256)
	stmt := strings.Replace(string(verifytest.Statement(e.target.Digest)), verifytest.PredicateTypeSign, "https://slsa.dev/provenance/v1", 1)
	b, err := verifytest.KeyDSSEBundle([]byte(stmt), k)
	must(t, err)
	must(t, verifytest.AttachBundle(ctx, e.reg.Host, repo, e.target.Digest, b))
	_, err = keyVerifier(t, e, pub).Verify(ctx, e.target)
	wantErr(t, err, verify.ErrSignatureInvalid, "attestation", "slsa.dev/provenance/v1")
}

// An invalid bundle does not hide a valid legacy signature.
func TestInvalidBundleThenValidLegacy(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	k, pub := newKey(t, verifytest.ECDSAP256)
	other, _ := newKey(t, verifytest.ECDSAP256)
	must(t, verifytest.SignKeyBundle(ctx, e.reg.Host, repo, e.target.Digest, other))
	must(t, verifytest.SignKeyLegacy(ctx, e.reg.Host, repo, e.target.Digest, other))
	must(t, verifytest.SignKeyLegacy(ctx, e.reg.Host, repo, e.target.Digest, k))
	res, err := keyVerifier(t, e, pub).Verify(ctx, e.target)
	must(t, err)
	if res.Format != verify.FormatCosignTag {
		t.Errorf("Format = %q, want %q", res.Format, verify.FormatCosignTag)
	}
}

func TestBadPolicy(t *testing.T) {
	f := oci.NewFetcher(oci.Options{})
	_, pub := newKey(t, verifytest.ECDSAP256)
	for name, pems := range map[string][][]byte{
		"none":        nil,
		"garbage":     {[]byte("not a key")},
		"certificate": {[]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")},
		"one bad":     {pub, []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")},
		"empty":       {pub, []byte("\n")},
		"trailing":    {append(append([]byte{}, pub...), "junk"...)},
		"too many":    slices.Repeat([][]byte{pub}, cosign.MaxKeys+1),
	} {
		if _, err := cosign.NewKeyVerifier(f, pems); !errors.Is(err, verify.ErrInvalidPolicy) {
			t.Errorf("%s: err = %v, want ErrInvalidPolicy", name, err)
		}
	}
	vs, err := verifytest.NewVirtualSigstore()
	must(t, err)
	for name, id := range map[string]cosign.Identity{
		"no issuer":     {Subject: subject},
		"two issuers":   {Issuer: issuer, IssuerRegExp: ".*", Subject: subject},
		"no subject":    {Issuer: issuer},
		"two subjects":  {Issuer: issuer, Subject: subject, SubjectRegExp: ".*"},
		"bad regexp":    {Issuer: issuer, SubjectRegExp: "(["},
		"bad issuer re": {IssuerRegExp: "a**", Subject: subject},
	} {
		if _, err := cosign.NewKeylessVerifier(f, id, vs); !errors.Is(err, verify.ErrInvalidPolicy) {
			t.Errorf("%s: err = %v, want ErrInvalidPolicy", name, err)
		}
	}
	if _, err := cosign.NewKeylessVerifier(f, cosign.Identity{Issuer: issuer, Subject: subject}, nil); !errors.Is(err, verify.ErrInvalidPolicy) {
		t.Errorf("nil trusted material: err = %v, want ErrInvalidPolicy", err)
	}
}

func TestTrustedRootFromJSON(t *testing.T) {
	for name, b := range map[string]string{
		"empty":      "",
		"garbage":    "not json",
		"wrong type": `{"mediaType":"application/json"}`,
	} {
		if _, err := cosign.TrustedRootFromJSON([]byte(b)); !errors.Is(err, verify.ErrInvalidPolicy) {
			t.Errorf("%s: err = %v, want ErrInvalidPolicy", name, err)
		}
	}

	// A trusted_root.json written from a VirtualSigstore verifies its
	// signatures.
	ctx := context.Background()
	e := newEnv(t)
	vs, err := verifytest.NewVirtualSigstore()
	must(t, err)
	js, err := vs.TrustedRootJSON()
	must(t, err)
	tr, err := cosign.TrustedRootFromJSON(js)
	must(t, err)
	must(t, verifytest.SignKeyless(ctx, e.reg.Host, repo, e.target.Digest, vs, issuer, subject))
	v, err := cosign.NewKeylessVerifier(e.fetcher, cosign.Identity{Issuer: issuer, Subject: subject}, tr)
	must(t, err)
	if _, err := v.Verify(ctx, e.target); err != nil {
		t.Fatal(err)
	}
}

// Verification reads only signature artifacts: the referrers list, the
// bundle's manifest and its one blob; never the Wasm layer.
func TestReadsNoModuleBlob(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	k, pub := newKey(t, verifytest.ECDSAP256)
	must(t, verifytest.SignKeyBundle(ctx, e.reg.Host, repo, e.target.Digest, k))
	v := keyVerifier(t, e, pub)
	e.reg.Reset()
	_, err := v.Verify(ctx, e.target)
	must(t, err)
	got := e.reg.Counts()
	want := ocitest.Counts{ManifestGET: 1, BlobGET: 1, Other: 1, Total: 3}
	if got != want {
		t.Errorf("registry requests = %+v, want %+v (referrers, bundle manifest, bundle blob)", got, want)
	}
}

// A signature blob over the cap is refused without being read.
func TestOversizedBundleNotRead(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, pub := newKey(t, verifytest.ECDSAP256)
	must(t, verifytest.AttachBundle(ctx, e.reg.Host, repo, e.target.Digest, make([]byte, cosign.MaxSignatureSize+1)))
	e.reg.Reset()
	_, err := keyVerifier(t, e, pub).Verify(ctx, e.target)
	wantErr(t, err, verify.ErrSignatureInvalid, "cap")
	if c := e.reg.Counts(); c.BlobGET != 0 {
		t.Errorf("BlobGET = %d, want 0", c.BlobGET)
	}
}

// At most MaxSignatures referrers are examined.
func TestReferrersCapped(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, pub := newKey(t, verifytest.ECDSAP256)
	for i := range cosign.MaxSignatures + 2 {
		must(t, verifytest.AttachBundle(ctx, e.reg.Host, repo, e.target.Digest, []byte{'{', byte('a' + i), '}'}))
	}
	e.reg.Reset()
	_, err := keyVerifier(t, e, pub).Verify(ctx, e.target)
	wantErr(t, err, verify.ErrSignatureInvalid, "none of 16 signatures", "and 13 more")
	if c := e.reg.Counts(); c.BlobGET != cosign.MaxSignatures {
		t.Errorf("BlobGET = %d, want %d", c.BlobGET, cosign.MaxSignatures)
	}
}

func TestUnauthorized(t *testing.T) {
	e := newEnv(t)
	_, pub := newKey(t, verifytest.ECDSAP256)
	e.reg.RequireAuth("u", "p")
	_, err := keyVerifier(t, e, pub).Verify(context.Background(), e.target)
	wantErr(t, err, oci.ErrUnauthorized)
}

func TestBadTarget(t *testing.T) {
	e := newEnv(t)
	_, pub := newKey(t, verifytest.ECDSAP256)
	v := keyVerifier(t, e, pub)
	for _, tg := range []verify.Target{
		{Request: e.target.Request},
		{Request: e.target.Request, Digest: "sha256:abc"},
		{Request: oci.Request{Image: "no-host/x:1"}, Digest: e.target.Digest},
	} {
		if _, err := v.Verify(context.Background(), tg); err == nil {
			t.Errorf("Verify(%+v) succeeded", tg)
		}
	}
}

// Through a registry without the referrers API, bundles are found with the
// referrers tag (sha256-<hex>) that the pusher maintains.
func TestReferrersTagFallback(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	k, pub := newKey(t, verifytest.ECDSAP256)
	must(t, verifytest.SignKeyBundle(ctx, e.reg.Host, repo, e.target.Digest, k))
	up := &url.URL{Scheme: "http", Host: e.reg.Host}
	proxy := httputil.NewSingleHostReverseProxy(up)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/referrers/") {
			http.NotFound(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tg := e.target
	tg.Request.Image = strings.TrimPrefix(srv.URL, "http://") + "/" + repo + ":v1"
	res, err := keyVerifier(t, e, pub).Verify(ctx, tg)
	must(t, err)
	if res.Format != verify.FormatBundleReferrer {
		t.Errorf("Format = %q, want %q", res.Format, verify.FormatBundleReferrer)
	}
}
