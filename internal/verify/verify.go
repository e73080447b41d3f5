// Package verify decides whether a module's manifest digest carries a
// signature the extension's policy trusts, before anything runs it.
//
// It owns: the one-method Verifier interface the controller calls, the
// Target it verifies (a manifest digest in a repository), the Result it
// reports and the sentinel errors that say which kind of "no" it is. One
// sub-package per provider implements Verifier (cosign/ for Sigstore
// signatures made with a key or keyless).
//
// It must not: fetch or read the Wasm module (only signature artifacts),
// resolve tags (the caller pins the digest first and verifies exactly that
// digest), read Kubernetes objects, or retry. Callers classify failures with
// errors.Is against the sentinels below and against oci.ErrUnauthorized;
// every other error is transient and worth a retry with backoff.
package verify

import (
	"context"
	"errors"

	"github.com/opencontainers/go-digest"

	"github.com/wasmext/wasmext/internal/oci"
)

// Target is what gets verified: a manifest digest in a repository.
type Target struct {
	// Request names the repository (its image reference's registry and
	// repository; tag and digest are ignored) and how to reach it: the
	// same Insecure and Credential as the fetch that resolved Digest.
	Request oci.Request
	// Digest is the resolved manifest digest. Signatures are looked up for
	// this digest and must cover it.
	Digest digest.Digest
}

// Result says how a Target was verified.
type Result struct {
	// VerifiedBy is human-readable: "key SHA256:<fingerprint>" or
	// "keyless issuer=<issuer> subject=<subject>".
	VerifiedBy string
	// Method is MethodCosignKey or MethodCosignKeyless.
	Method string
	// Format is FormatBundleReferrer or FormatCosignTag.
	Format string
}

// Result.Method values.
const (
	MethodCosignKey      = "cosign-key"
	MethodCosignKeyless  = "cosign-keyless"
	FormatBundleReferrer = "bundle-referrer" // Sigstore bundle attached as an OCI 1.1 referrer
	FormatCosignTag      = "cosign-tag"      // cosign's sha256-<hex>.sig tag with simple-signing layers
)

// Sentinel errors. All four mean "a person has to change something" (sign
// the module, fix the policy); none is worth a hot retry.
var (
	// ErrSignatureMissing: no signature was found for the digest (neither a
	// Sigstore bundle referrer nor a sha256-<hex>.sig tag).
	ErrSignatureMissing = errors.New("signature missing")
	// ErrSignatureInvalid: signatures exist but none verifies with the
	// configured keys or trusted root, including signatures over a
	// different digest.
	ErrSignatureInvalid = errors.New("signature invalid")
	// ErrIdentityMismatch: a keyless signature verifies against the trusted
	// root but its certificate's issuer or subject is not the one the
	// policy names. The message says what was found and what was expected.
	ErrIdentityMismatch = errors.New("signer identity mismatch")
	// ErrInvalidPolicy: the policy itself is unusable: a bad public key
	// PEM, a bad trusted root JSON, a bad regular expression.
	ErrInvalidPolicy = errors.New("invalid verification policy")
)

// Verifier checks that a Target is signed as a policy requires.
// Implementations are safe for concurrent use.
type Verifier interface {
	// Verify returns how t was verified, or an error wrapping one of the
	// sentinels above (or oci.ErrUnauthorized), or a transient error.
	Verify(ctx context.Context, t Target) (Result, error)
}
