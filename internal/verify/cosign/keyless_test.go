package cosign_test

import (
	"context"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wasmext/wasmext/internal/verify"
	"github.com/wasmext/wasmext/internal/verify/cosign"
	"github.com/wasmext/wasmext/internal/verify/verifytest"
)

type keylessSignFunc func(ctx context.Context, host, repo string, d digest.Digest, vs *verifytest.VirtualSigstore, issuer, subject string) error

var keylessFormats = []struct {
	name   string
	sign   keylessSignFunc
	format string
}{
	{"bundle", verifytest.SignKeyless, verify.FormatBundleReferrer},
	{"legacy", verifytest.SignKeylessLegacy, verify.FormatCosignTag},
}

func newVirtualSigstore(t testing.TB) *verifytest.VirtualSigstore {
	t.Helper()
	vs, err := verifytest.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestKeyless(t *testing.T) {
	tests := []struct {
		name      string
		signedBy  string // subject in the certificate
		signedIss string
		id        cosign.Identity
		otherRoot bool // verify against another VirtualSigstore
		wantErr   error
		contains  []string
	}{
		{name: "valid", id: cosign.Identity{Issuer: issuer, Subject: subject}},
		{name: "subject regexp", id: cosign.Identity{Issuer: issuer, SubjectRegExp: `.*@acme\.example`}},
		{name: "issuer regexp", id: cosign.Identity{IssuerRegExp: `https://issuer\.(example|test)`, Subject: subject}},
		{
			name: "wrong subject", id: cosign.Identity{Issuer: issuer, Subject: "release@acme.example"},
			wantErr: verify.ErrIdentityMismatch, contains: []string{`subject "ci@acme.example"`, `want issuer "https://issuer.example" and subject "release@acme.example"`},
		},
		{
			name: "wrong issuer", id: cosign.Identity{Issuer: "https://other.example", Subject: subject},
			wantErr: verify.ErrIdentityMismatch, contains: []string{`signed by issuer "https://issuer.example"`, `want issuer "https://other.example"`},
		},
		{
			// Regular expressions match the whole value.
			name: "regexp is anchored", id: cosign.Identity{Issuer: issuer, SubjectRegExp: `acme\.example`},
			wantErr: verify.ErrIdentityMismatch, contains: []string{`subject matching "^(?:acme\\.example)$"`},
		},
		{
			name: "other root", id: cosign.Identity{Issuer: issuer, Subject: subject}, otherRoot: true,
			wantErr: verify.ErrSignatureInvalid,
		},
	}
	for _, f := range keylessFormats {
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				ctx := context.Background()
				e := newEnv(t)
				vs := newVirtualSigstore(t)
				must(t, f.sign(ctx, e.reg.Host, repo, e.target.Digest, vs, issuer, subject))
				trusted := vs
				if tt.otherRoot {
					trusted = newVirtualSigstore(t)
				}
				v, err := cosign.NewKeylessVerifier(e.fetcher, tt.id, trusted)
				must(t, err)
				res, err := v.Verify(ctx, e.target)
				if tt.wantErr != nil {
					wantErr(t, err, tt.wantErr, tt.contains...)
					return
				}
				must(t, err)
				want := verify.Result{
					VerifiedBy: "keyless issuer=" + issuer + " subject=" + subject,
					Method:     verify.MethodCosignKeyless,
					Format:     f.format,
				}
				if res != want {
					t.Errorf("Verify = %+v, want %+v", res, want)
				}
			})
		}
	}
}

// A keyless signature of another digest attached to this one is refused.
func TestKeylessSignatureForOtherDigest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	vs := newVirtualSigstore(t)
	b, err := verifytest.KeylessBundle(e.other, vs, issuer, subject)
	must(t, err)
	must(t, verifytest.AttachBundle(ctx, e.reg.Host, repo, e.target.Digest, b))
	v, err := cosign.NewKeylessVerifier(e.fetcher, cosign.Identity{Issuer: issuer, Subject: subject}, vs)
	must(t, err)
	_, err = v.Verify(ctx, e.target)
	wantErr(t, err, verify.ErrSignatureInvalid, "digest")
}

// A key signature does not satisfy a keyless policy, and a keyless one
// does not satisfy a key policy.
func TestKeyAndKeylessDoNotMix(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	vs := newVirtualSigstore(t)
	k, pub := newKey(t, verifytest.ECDSAP256)
	must(t, verifytest.SignKeyBundle(ctx, e.reg.Host, repo, e.target.Digest, k))
	v, err := cosign.NewKeylessVerifier(e.fetcher, cosign.Identity{Issuer: issuer, Subject: subject}, vs)
	must(t, err)
	_, err = v.Verify(ctx, e.target)
	wantErr(t, err, verify.ErrSignatureInvalid)

	e2 := newEnv(t)
	must(t, verifytest.SignKeyless(ctx, e2.reg.Host, repo, e2.target.Digest, vs, issuer, subject))
	must(t, verifytest.SignKeylessLegacy(ctx, e2.reg.Host, repo, e2.target.Digest, vs, issuer, subject))
	_, err = keyVerifier(t, e2, pub).Verify(ctx, e2.target)
	wantErr(t, err, verify.ErrSignatureInvalid, "none of 2 signatures")
}

func TestKeylessMissing(t *testing.T) {
	e := newEnv(t)
	v, err := cosign.NewKeylessVerifier(e.fetcher, cosign.Identity{Issuer: issuer, Subject: subject}, newVirtualSigstore(t))
	must(t, err)
	_, err = v.Verify(context.Background(), e.target)
	wantErr(t, err, verify.ErrSignatureMissing)
}
