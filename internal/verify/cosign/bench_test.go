package cosign_test

import (
	"context"
	"testing"

	"github.com/wasmext/wasmext/internal/verify/cosign"
	"github.com/wasmext/wasmext/internal/verify/verifytest"
)

// BenchmarkVerifyKeyBundle is one Verify of a key-signed bundle referrer
// against the in-process registry: referrers list, bundle manifest, bundle
// blob, signature check.
func BenchmarkVerifyKeyBundle(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b)
	k, pub := newKey(b, verifytest.ECDSAP256)
	must(b, verifytest.SignKeyBundle(ctx, e.reg.Host, repo, e.target.Digest, k))
	v := keyVerifier(b, e, pub)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, e.target); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyKeylessBundle is the same for a keyless bundle (chain,
// log entry, timestamp and identity checks).
func BenchmarkVerifyKeylessBundle(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b)
	vs := newVirtualSigstore(b)
	must(b, verifytest.SignKeyless(ctx, e.reg.Host, repo, e.target.Digest, vs, issuer, subject))
	v, err := cosign.NewKeylessVerifier(e.fetcher, cosign.Identity{Issuer: issuer, Subject: subject}, vs)
	must(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, e.target); err != nil {
			b.Fatal(err)
		}
	}
}
