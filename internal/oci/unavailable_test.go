package oci

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"oras.land/oras-go/v2/registry/remote/errcode"
)

func TestUnavailable(t *testing.T) {
	resp := func(code int) error { return &errcode.ErrorResponse{Method: "HEAD", StatusCode: code} }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"500", resp(http.StatusInternalServerError), true},
		{"503", resp(http.StatusServiceUnavailable), true},
		{"429", resp(http.StatusTooManyRequests), true},
		{"404", resp(http.StatusNotFound), false},
		{"401", resp(http.StatusUnauthorized), false},
		{"400", resp(http.StatusBadRequest), false},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("x: %w", syscall.ECONNRESET), true},
		{"dns", &net.DNSError{Err: "no such host", Name: "registry.invalid"}, true},
		{"deadline", context.DeadlineExceeded, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"canceled", context.Canceled, false},
		{"certificate", x509.UnknownAuthorityError{}, false},
		{"scheme mismatch", http.ErrSchemeMismatch, false},
		{"other", errors.New("invalid character in manifest"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unavailable(tt.err); got != tt.want {
				t.Errorf("Unavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if got := errors.Is(classify(tt.err, "resolve x"), ErrUnavailable); got != tt.want {
				t.Errorf("classify(%v) is ErrUnavailable: %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestResolveUnavailable: a registry that answers 500, one that hangs
// (past the client's response-header timeout) and one that is not there
// all resolve to an error that is ErrUnavailable, and none of a person's
// sentinels.
func TestResolveUnavailable(t *testing.T) {
	answer500 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"errors":[{"code":"UNKNOWN","message":"down"}]}`)
	}))
	defer answer500.Close()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	gone := httptest.NewServer(http.NotFoundHandler())
	goneHost := strings.TrimPrefix(gone.URL, "http://")
	gone.Close()

	tr := &http.Transport{ResponseHeaderTimeout: 200 * time.Millisecond}
	defer tr.CloseIdleConnections()
	f := NewFetcher(Options{HTTPClient: &http.Client{Transport: tr}})
	for name, host := range map[string]string{
		"500":  strings.TrimPrefix(answer500.URL, "http://"),
		"hang": strings.TrimPrefix(hang.URL, "http://"),
		"gone": goneHost,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.Resolve(context.Background(), Request{Image: host + "/acme/filter:v1", Insecure: true})
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Resolve: %v, want ErrUnavailable", err)
			}
			if s := sentinelFor(err); s != nil {
				t.Fatalf("Resolve: %v maps to %v, a person's sentinel", err, s)
			}
		})
	}
}
