package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"

	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/wasmext/wasmext/internal/netguard"
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

// ErrUnavailable is the one transient sentinel: the registry did not
// answer (connection refused or reset, no route, DNS failure, timeout,
// the connection dropped mid-answer) or answered 5xx or 429. Nobody has to
// change anything: the caller retries with backoff and keeps what it has.
var ErrUnavailable = errors.New("registry unavailable")

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
	if Unavailable(err) {
		return fmt.Errorf("%s: %w: %w", doing, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// Unavailable reports whether err says the server did not answer in time
// or at all, or answered 5xx or 429 (see ErrUnavailable). TLS and
// certificate errors, and a refused address, are not outages.
func Unavailable(err error) bool {
	if errors.Is(err, netguard.ErrAddressRefused) {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		return resp.StatusCode >= http.StatusInternalServerError || resp.StatusCode == http.StatusTooManyRequests
	}
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return true
	case errors.As(err, &dns):
		return true
	case errors.As(err, &op):
		return op.Op == "dial" || op.Op == "read" || op.Op == "write"
	}
	var timeout interface{ Timeout() bool }
	return errors.As(err, &timeout) && timeout.Timeout()
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
	// Nor for a token realm it refuses to send credentials to (loopback,
	// link-local, metadata: its own check before the dialer's).
	if strings.Contains(err.Error(), "in blocked prefix") {
		return netguard.ErrAddressRefused
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
