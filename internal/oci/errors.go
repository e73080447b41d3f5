package oci

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Sentinel errors. The controller maps them with errors.Is to condition
// Reasons; they all mean "a person has to change something". Every other
// error returned by this package is transient (retry with backoff).
var (
	// ErrInvalidReference: the image string is not a valid reference
	// (it must include a registry host).
	ErrInvalidReference = errors.New("invalid image reference")
	// ErrUnauthorized: the registry answered 401 or 403.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound: the registry answered 404 for the repository, tag,
	// manifest or blob.
	ErrNotFound = errors.New("not found")
	// ErrUnsupportedFormat: the manifest is none of the supported Wasm
	// packagings (an image index without a Wasm platform included), or the
	// image layer holds no single, regular, readable plugin.wasm.
	ErrUnsupportedFormat = errors.New("unsupported format")
	// ErrTooLarge: a module, manifest, layer or decompressed stream is over
	// its cap, or a layer has more entries than maxTarEntries.
	ErrTooLarge = errors.New("too large")
	// ErrDigestMismatch: content does not match its descriptor digest.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrInvalidPullSecret: the docker config JSON is unusable for the host.
	ErrInvalidPullSecret = errors.New("invalid pull secret")
)

// classify wraps err from oras-go or the transport with the sentinel it
// stands for, if any, and with what was being done. The original error stays
// in the chain for logs.
func classify(err error, doing string) error {
	if err == nil {
		return nil
	}
	if s := sentinelFor(err); s != nil {
		if errors.Is(err, s) {
			return fmt.Errorf("%s: %w", doing, err)
		}
		return fmt.Errorf("%s: %w: %w", doing, s, err)
	}
	if errors.Is(err, http.ErrSchemeMismatch) {
		return fmt.Errorf("%s: %w (the registry speaks plain HTTP; mark the source insecure if that is intended)", doing, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// sentinelFor returns the sentinel error err maps to, or nil when err is
// transient.
func sentinelFor(err error) error {
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return ErrUnauthorized
		case http.StatusNotFound:
			return ErrNotFound
		}
	}
	// oras-go has no sentinel for a blob whose Content-Length differs from
	// its descriptor's size, nor for an answer whose Docker-Content-Digest
	// names other content than was asked for; retrying cannot fix either.
	if msg := err.Error(); strings.Contains(msg, "mismatch Content-Length") || strings.Contains(msg, "digest mismatch in Docker-Content-Digest") {
		return ErrDigestMismatch
	}
	for _, m := range []struct{ from, to error }{
		{ErrInvalidReference, ErrInvalidReference},
		{ErrUnauthorized, ErrUnauthorized},
		{ErrNotFound, ErrNotFound},
		{ErrUnsupportedFormat, ErrUnsupportedFormat},
		{ErrTooLarge, ErrTooLarge},
		{ErrDigestMismatch, ErrDigestMismatch},
		{errdef.ErrNotFound, ErrNotFound},
		{errdef.ErrSizeExceedsLimit, ErrTooLarge},
		{auth.ErrBasicCredentialNotFound, ErrUnauthorized},
		{content.ErrMismatchedDigest, ErrDigestMismatch},
		{content.ErrTrailingData, ErrDigestMismatch},
	} {
		if errors.Is(err, m.from) {
			return m.to
		}
	}
	return nil
}
