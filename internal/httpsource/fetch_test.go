package httpsource

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// serve answers every request with body and headers hdr (key, value pairs).
func serve(t *testing.T, body []byte, hdr ...string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchPlainAndGzip(t *testing.T) {
	wasm := wasmtest.ProxyWasm
	for _, tc := range []struct {
		name   string
		body   []byte
		hdr    []string
		wantGz bool
	}{
		{"plain", wasm, nil, false},
		{"content-encoding gzip", gz(t, wasm), []string{"Content-Encoding", "gzip"}, true},
		{"wasm.gz by its magic", gz(t, wasm), []string{"Content-Type", "application/gzip"}, true},
		{"content-encoding gzip of a wasm.gz", gz(t, gz(t, wasm)), []string{"Content-Encoding", "gzip"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, tc.body, tc.hdr...)
			m, err := New(Options{}).Fetch(context.Background(), Request{URL: srv.URL + "/f.wasm", SHA256: sum(wasm)})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Wasm, wasm) || m.SHA256 != sum(wasm) || m.Size != int64(len(wasm)) || m.Gzip != tc.wantGz {
				t.Fatalf("got %d bytes sha256 %s gzip %v, want %d bytes sha256 %s gzip %v", len(m.Wasm), m.SHA256, m.Gzip, len(wasm), sum(wasm), tc.wantGz)
			}
		})
	}
}

func TestFetchRefuses(t *testing.T) {
	big := bytes.Repeat([]byte{0}, 2<<20)
	bomb := gz(t, make([]byte, 64<<20)) // 64 MiB of zeros, ~64 KiB on the wire
	chunked := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for range 3 {
			_, _ = w.Write(make([]byte, 1<<20))
			w.(http.Flusher).Flush()
		}
	})
	for _, tc := range []struct {
		name    string
		handler http.Handler
		sha     string
		want    error
		msg     []string
	}{
		{"content-length over the cap", bytesHandler(big), sum(big), oci.ErrTooLarge, []string{"cap is 1048576"}},
		{"chunked body over the cap", chunked, sum(big), oci.ErrTooLarge, []string{"over 1048576"}},
		{"gzip bomb", bytesHandler(bomb, "Content-Encoding", "gzip"), sum(make([]byte, 64<<20)), oci.ErrTooLarge, []string{"over 1048576"}},
		{"sha256 mismatch", bytesHandler(wasmtest.ProxyWasm), sum(wasmtest.ProxyWasmV2), oci.ErrDigestMismatch,
			[]string{sum(wasmtest.ProxyWasm), sum(wasmtest.ProxyWasmV2)}},
		{"404", codeHandler(404), sum(big), oci.ErrNotFound, []string{"HTTP 404"}},
		{"403", codeHandler(403), sum(big), oci.ErrUnauthorized, []string{"HTTP 403"}},
		{"500 is transient", codeHandler(500), sum(big), ErrUnavailable, []string{"HTTP 500"}},
		{"brotli", bytesHandler([]byte("x"), "Content-Encoding", "br"), sum(big), oci.ErrUnsupportedFormat, []string{`"br"`}},
		{"corrupt gzip", bytesHandler(append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{7}, 64)...)), sum(big), oci.ErrUnsupportedFormat, []string{"gzip"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			_, err := New(Options{MaxModuleSize: 1 << 20}).Fetch(context.Background(), Request{URL: srv.URL + "/m.wasm", SHA256: tc.sha})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, s := range tc.msg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if tc.want == ErrUnavailable && sentinel(err) != nil {
				t.Errorf("a transient error wraps %v", sentinel(err))
			}
		})
	}
}

// sentinel returns the oci sentinel err wraps, if any.
func sentinel(err error) error {
	for _, s := range []error{oci.ErrNotFound, oci.ErrUnauthorized, oci.ErrTooLarge, oci.ErrDigestMismatch,
		oci.ErrUnsupportedFormat, oci.ErrInvalidReference, oci.ErrInvalidPullSecret} {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}

func bytesHandler(b []byte, hdr ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})
}

func codeHandler(code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", code) })
}

func TestFetchCustomCA(t *testing.T) {
	wasm := wasmtest.ProxyWasm
	srv := httptest.NewTLSServer(bytesHandler(wasm))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	f := New(Options{})
	req := Request{URL: srv.URL + "/m.wasm", SHA256: sum(wasm)}
	if _, err := f.Fetch(context.Background(), req); err == nil || errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: err = %v, want an unknown-authority error (no outage)", err)
	}
	req.CA = ca
	m, err := f.Fetch(context.Background(), req)
	if err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	if !bytes.Equal(m.Wasm, wasm) {
		t.Fatal("with the CA: other bytes")
	}
	req.CA = []byte("not PEM")
	if _, err := f.Fetch(context.Background(), req); !errors.Is(err, oci.ErrInvalidPullSecret) {
		t.Fatalf("a CA without a certificate: err = %v, want ErrInvalidPullSecret", err)
	}
	req.CA = ca
	other := New(Options{Transport: roundTripFunc(http.DefaultTransport.RoundTrip)})
	if _, err := other.Fetch(context.Background(), req); err == nil || !strings.Contains(err.Error(), "*http.Transport") {
		t.Fatalf("a CA with a transport that cannot take it: err = %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestFetchRedirects(t *testing.T) {
	wasm := wasmtest.ProxyWasm
	mux := http.NewServeMux()
	mux.Handle("/m.wasm", bytesHandler(wasm))
	mux.Handle("/one", http.RedirectHandler("/two", http.StatusFound))
	mux.Handle("/two", http.RedirectHandler("/m.wasm", http.StatusMovedPermanently))
	mux.Handle("/loop", http.RedirectHandler("/loop", http.StatusFound))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var requests atomic.Int64
	counting := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		requests.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})
	f := New(Options{Transport: counting, MaxRedirects: 3})
	m, err := f.Fetch(context.Background(), Request{URL: srv.URL + "/one", SHA256: sum(wasm)})
	if err != nil || !bytes.Equal(m.Wasm, wasm) {
		t.Fatalf("two redirects: %v", err)
	}
	if n := requests.Load(); n != 3 {
		t.Fatalf("the caller's transport made %d requests, want 3 (two redirects and the file)", n)
	}
	requests.Store(0)
	_, err = f.Fetch(context.Background(), Request{URL: srv.URL + "/loop", SHA256: sum(wasm)})
	if !errors.Is(err, errRedirects) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("a redirect loop: err = %v, want errRedirects", err)
	}
	if n := requests.Load(); n != 4 {
		t.Fatalf("a redirect loop made %d requests, want 4 (the first and 3 redirects)", n)
	}
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler(srv.URL+"/m.wasm", http.StatusFound))
	defer tlsSrv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	_, err = New(Options{}).Fetch(context.Background(), Request{URL: tlsSrv.URL + "/m.wasm", SHA256: sum(wasm), CA: ca})
	if !errors.Is(err, oci.ErrInvalidReference) || !strings.Contains(err.Error(), "https to http") {
		t.Fatalf("a redirect from https to http: err = %v, want refused", err)
	}
}

func TestShownHidesSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@files.example.com/m.wasm?X-Amz-Signature=s3cr3t#frag": "https://files.example.com/m.wasm",
		"http://svc.ns.svc:8080/a/b.wasm":                                      "http://svc.ns.svc:8080/a/b.wasm",
		"https://h/%zz?token=s3cr3t":                                           "https://h/%zz",
	} {
		if got := Shown(in); got != want {
			t.Errorf("Shown(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Shown("https://h/" + strings.Repeat("a", 2000)); len(got) != maxShown {
		t.Errorf("a long URL is shown with %d bytes, want %d", len(got), maxShown)
	}
}

func TestFetchKeepsSecretsOutOfErrors(t *testing.T) {
	srv := httptest.NewServer(codeHandler(500))
	srv.Close() // nothing listens: the error quotes the URL
	_, err := New(Options{}).Fetch(context.Background(), Request{URL: srv.URL + "/m.wasm?sig=s3cr3t", SHA256: sum(nil)})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("the error shows the query: %v", err)
	}
}
