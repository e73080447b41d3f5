package cache_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/wasmext/wasmext/internal/cache"
)

const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// newServer serves srv on a real loopback HTTP server.
func newServer(t testing.TB, srv http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

// do sends one request with target written verbatim on the request line,
// so that no client library cleans or re-escapes the path.
func do(t testing.TB, ts *httptest.Server, method, target string, header ...string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := method + " " + target + " HTTP/1.1\r\nHost: modules\r\nConnection: close\r\n"
	for _, h := range header {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	req2, _ := http.NewRequest(method, "/", nil)
	resp, err := http.ReadResponse(bufio.NewReader(conn), req2)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// metric returns the value of a wasmext_cache_* counter or gauge as
// registered in controller-runtime's registry; result selects a label.
func metric(t testing.TB, name, result string) float64 {
	t.Helper()
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if result != "" && !hasLabel(m, "result", result) {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s{result=%q} not registered", name, result)
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func TestServeHit(t *testing.T) {
	store := cache.NewStore(1 << 20)
	k, b := mod("\x00asm\x01\x00\x00\x00", 5000)
	mustPut(t, store, k, b)
	srv := &cache.Server{Store: store, Token: token}
	ts := newServer(t, srv)
	hits := metric(t, "wasmext_cache_requests_total", "hit")

	resp, body := do(t, ts, "GET", "/modules/"+token+"/"+k+".wasm")
	if resp.StatusCode != 200 || !bytes.Equal(body, b) {
		t.Fatalf("GET = %d with %d bytes; want 200 with the module", resp.StatusCode, len(body))
	}
	want := map[string]string{
		"Content-Type":   "application/wasm",
		"Content-Length": "5000",
		"Etag":           `"sha256:` + k + `"`,
		"Cache-Control":  "public, max-age=31536000, immutable",
	}
	for h, v := range want {
		if got := resp.Header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}

	resp, body = do(t, ts, "HEAD", "/modules/"+token+"/"+k+".wasm")
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("HEAD = %d with %d bytes; want 200, no body", resp.StatusCode, len(body))
	}
	for h, v := range want {
		if got := resp.Header.Get(h); got != v {
			t.Errorf("HEAD: %s = %q, want %q", h, got, v)
		}
	}

	resp, body = do(t, ts, "GET", "/modules/"+token+"/"+k+".wasm", `If-None-Match: "other", W/"sha256:`+k+`"`)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("conditional GET = %d with %d bytes; want 304", resp.StatusCode, len(body))
	}
	if got := metric(t, "wasmext_cache_requests_total", "hit") - hits; got != 3 {
		t.Fatalf("hits grew by %v, want 3", got)
	}

	// Through the client the controller would hand to Envoy: URL().
	res, err := http.Get(srv.URL(ts.URL, k))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if got, _ := io.ReadAll(res.Body); res.StatusCode != 200 || !bytes.Equal(got, b) {
		t.Fatalf("GET URL() = %d; want 200 with the module", res.StatusCode)
	}
}

func TestServeRefusesOtherPaths(t *testing.T) {
	store := cache.NewStore(1 << 20)
	k, b := mod("x", 100)
	mustPut(t, store, k, b)
	var refills atomic.Int32
	refill := func(context.Context, string) ([]byte, error) {
		refills.Add(1)
		return b, nil
	}
	ts := newServer(t, &cache.Server{Store: store, Token: token, Refill: refill})
	good := "/modules/" + token + "/" + k + ".wasm"
	if resp, _ := do(t, ts, "GET", good); resp.StatusCode != 200 {
		t.Fatalf("control request = %d, want 200", resp.StatusCode)
	}
	notFound := metric(t, "wasmext_cache_requests_total", "not_found")
	targets := badTargets(k)
	for _, target := range targets {
		resp, body := do(t, ts, "GET", target)
		if resp.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", target, resp.StatusCode)
		}
		if bytes.Contains(body, b) || strings.Contains(string(body), token) {
			t.Errorf("GET %s: body gives away the module or the token", target)
		}
	}
	if got := metric(t, "wasmext_cache_requests_total", "not_found") - notFound; got != float64(len(targets)) {
		t.Errorf("not_found grew by %v, want %d", got, len(targets))
	}
	if n := refills.Load(); n != 0 {
		t.Errorf("Refill called %d times for refused paths", n)
	}

	for _, method := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"} {
		for _, target := range []string{good, "/nothing"} {
			resp, _ := do(t, ts, method, target, "Content-Length: 0")
			if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s = %d, Allow %q; want 405, GET, HEAD", method, target, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	}
}

func TestServeNoTokenServesNothing(t *testing.T) {
	store := cache.NewStore(1 << 20)
	k, b := mod("x", 100)
	mustPut(t, store, k, b)
	for _, tok := range []string{"", "a/b", "a b", "ä", "a%2Fb"} {
		ts := newServer(t, &cache.Server{Store: store, Token: tok})
		for _, target := range []string{"/modules//" + k + ".wasm", "/modules/" + tok + "/" + k + ".wasm"} {
			if resp, _ := do(t, ts, "GET", strings.ReplaceAll(target, " ", "%20")); resp.StatusCode != 404 {
				t.Errorf("Token %q: GET %s = %d, want 404", tok, target, resp.StatusCode)
			}
		}
	}
}

func TestServePrefix(t *testing.T) {
	store := cache.NewStore(1 << 20)
	k, b := mod("x", 100)
	mustPut(t, store, k, b)
	for _, tc := range []struct{ prefix, path string }{
		{"", "/modules/"},
		{"/wasm", "/wasm/"},
		{"wasm/", "/wasm/"},
		{"/a/b/", "/a/b/"},
		{"/", "/"},
	} {
		srv := &cache.Server{Store: store, Token: token, Prefix: tc.prefix}
		ts := newServer(t, srv)
		want := ts.URL + tc.path + token + "/" + k + ".wasm"
		if got := srv.URL(ts.URL+"/", k); got != want {
			t.Errorf("Prefix %q: URL = %s, want %s", tc.prefix, got, want)
		}
		if resp, _ := do(t, ts, "GET", tc.path+token+"/"+k+".wasm"); resp.StatusCode != 200 {
			t.Errorf("Prefix %q: GET = %d, want 200", tc.prefix, resp.StatusCode)
		}
	}
}

func TestURL(t *testing.T) {
	srv := &cache.Server{Token: "tok"}
	k, _ := mod("x", 1)
	for _, base := range []string{"http://wasmext-modules.wasmext-system.svc:8082", "http://wasmext-modules.wasmext-system.svc:8082/"} {
		want := "http://wasmext-modules.wasmext-system.svc:8082/modules/tok/" + k + ".wasm"
		if got := srv.URL(base, k); got != want {
			t.Errorf("URL(%q) = %s, want %s", base, got, want)
		}
	}
}

func TestNewToken(t *testing.T) {
	a, err := cache.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cache.NewToken()
	if len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "" || a == b {
		t.Fatalf("NewToken = %q, %q; want two different 64-digit hex strings", a, b)
	}
}

// badTargets are request targets near the one that serves module k with
// token, each of which must be a 404.
func badTargets(k string) []string {
	return []string{
		"/",
		"/modules",
		"/modules/",
		"/modules/" + token,
		"/modules/" + token + "/",
		"/modules/" + token + "/" + k,              // no .wasm
		"/modules/" + token + "/" + k + ".WASM",    // case
		"/modules/" + token + "/" + k + ".wasm/",   // trailing slash
		"/modules/" + token + "/" + k + ".wasm.gz", // suffix
		"/modules/" + token + "/" + strings.ToUpper(k) + ".wasm",               // uppercase hex
		"/modules/" + token + "/sha256:" + k + ".wasm",                         // digest form
		"/modules/" + token + "/" + k[:63] + ".wasm",                           // short
		"/modules/" + token + "/" + k + "0.wasm",                               // long
		"/modules/" + token[:63] + "/" + k + ".wasm",                           // wrong token: short
		"/modules/" + token[:63] + "1/" + k + ".wasm",                          // wrong token: last char
		"/modules/" + strings.ToUpper(token) + "/" + k + ".wasm",               // wrong token: case
		"/modules/" + token + "x/" + k + ".wasm",                               // wrong token: long
		"/modules//" + k + ".wasm",                                             // no token
		"/modules/" + k + ".wasm",                                              // no token
		"/modules/" + token + "/../" + token + "/" + k + ".wasm",               // dot-dot
		"/modules/x/../" + token + "/" + k + ".wasm",                           // dot-dot past the token
		"/modules/./" + token + "/" + k + ".wasm",                              // dot
		"/modules/" + token + "/./" + k + ".wasm",                              // dot
		"/modules/" + token + "//" + k + ".wasm",                               // double slash
		"//modules/" + token + "/" + k + ".wasm",                               // double slash
		"/modules/" + token + "%2F" + k + ".wasm",                              // encoded slash
		"/modules/" + token + "%2f" + k + ".wasm",                              // encoded slash
		"/modules%2F" + token + "/" + k + ".wasm",                              // encoded slash
		"/modules/" + token + "/%2e%2e/" + token + "/" + k + ".wasm",           // encoded dot-dot
		"/modules/" + token + "/" + k + "%2ewasm",                              // encoded dot
		"/modules/%30" + token[1:] + "/" + k + ".wasm",                         // encoded token char
		"/modules/" + token + "/%" + fmt.Sprintf("%X", k[0]) + k[1:] + ".wasm", // encoded hex char
		"/modules/" + token + "/" + k + ".wasm%00",                             // NUL
		"/other/" + token + "/" + k + ".wasm",                                  // prefix
		"/modulesx/" + token + "/" + k + ".wasm",                               // prefix
		"/x/modules/" + token + "/" + k + ".wasm",                              // prefix
	}
}
