package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFetch(t *testing.T) {
	body := []byte("\x00asm module")
	sum := sha256.Sum256(body)
	good := hex.EncodeToString(sum[:])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name, path, sha, wantErr string
	}{
		{"match", "/ok", good, ""},
		{"sha256 differs", "/ok", strings.Repeat("0", 64), "want " + strings.Repeat("0", 64)},
		{"not found", "/missing", good, "HTTP 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := fetch(context.Background(), srv.Client(), srv.URL+tc.path, tc.sha)
			if tc.wantErr == "" {
				if err != nil || n != int64(len(body)) {
					t.Fatalf("fetch = %d, %v; want %d, nil", n, err, len(body))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("fetch error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestLookupGivesUpAtTheDeadline(t *testing.T) {
	// A resolver whose server refuses every query: lookups fail until ctx ends.
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Err: context.DeadlineExceeded}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	_, tries, err := lookup(ctx, r, "kubernetes.default.svc.cluster.local", 50*time.Millisecond)
	if err == nil || tries < 2 {
		t.Fatalf("lookup = %d tries, %v; want several tries and an error", tries, err)
	}
}

func TestLookupResolves(t *testing.T) {
	addrs, tries, err := lookup(context.Background(), net.DefaultResolver, "localhost", time.Second)
	if err != nil || len(addrs) == 0 || tries != 1 {
		t.Fatalf("lookup(localhost) = %v, %d, %v", addrs, tries, err)
	}
}
