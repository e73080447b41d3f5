package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

func TestClassify(t *testing.T) {
	resp := func(code int) error { return &errcode.ErrorResponse{Method: "GET", StatusCode: code} }
	tests := []struct {
		name string
		err  error
		want error // nil = transient
	}{
		{"401", resp(http.StatusUnauthorized), ErrUnauthorized},
		{"403", resp(http.StatusForbidden), ErrUnauthorized},
		{"404", resp(http.StatusNotFound), ErrNotFound},
		{"500", resp(http.StatusInternalServerError), nil},
		{"429", resp(http.StatusTooManyRequests), nil},
		{"oras not found", fmt.Errorf("x: %w", errdef.ErrNotFound), ErrNotFound},
		{"oras size limit", errdef.ErrSizeExceedsLimit, ErrTooLarge},
		{"basic credential missing", auth.ErrBasicCredentialNotFound, ErrUnauthorized},
		{"mismatched digest", content.ErrMismatchedDigest, ErrDigestMismatch},
		{"trailing data", content.ErrTrailingData, ErrDigestMismatch},
		{"own sentinel", fmt.Errorf("%w: x", ErrTooLarge), ErrTooLarge},
		{"content length lies", errors.New(`GET "http://x/v2/a/blobs/sha256:1": mismatch Content-Length`), ErrDigestMismatch},
		{"content digest lies", errors.New(`GET "http://x/v2/a/manifests/sha256:1": invalid response; digest mismatch in Docker-Content-Digest: received "sha256:2" when expecting "sha256:1"`), ErrDigestMismatch},
		{"unexpected EOF", io.ErrUnexpectedEOF, nil},
		{"deadline", context.DeadlineExceeded, nil},
		{"scheme mismatch", http.ErrSchemeMismatch, nil},
	}
	sentinels := []error{ErrInvalidReference, ErrUnauthorized, ErrNotFound, ErrUnsupportedFormat, ErrTooLarge, ErrDigestMismatch, ErrInvalidPullSecret}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err, "fetch x")
			if !errors.Is(got, tt.err) {
				t.Errorf("%v lost the original error", got)
			}
			for _, s := range sentinels {
				if errors.Is(got, s) != (s == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", got, s, !(s == tt.want), s == tt.want)
				}
			}
		})
	}
}
