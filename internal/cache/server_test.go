package cache_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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

// key is the module URL key of the tests: 32 bytes, the least accepted.
var key = cache.Key("k3y-0123456789abcdef0123456789ab")

// macOf computes a module's path segment as the layout documents it,
// hex(HMAC-SHA256(key, sha256hex)), independently of the package.
func macOf(k cache.Key, sha256hex string) string {
	h := hmac.New(sha256.New, k)
	h.Write([]byte(sha256hex))
	return hex.EncodeToString(h.Sum(nil))
}

// path is where a Server with the default prefix and key serves module k.
func path(k string) string { return "/modules/" + macOf(key, k) + "/" + k + ".wasm" }

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

// metric returns the value of a counter or gauge as registered in
// controller-runtime's registry; label ("name=value") selects a series.
func metric(t testing.TB, name, label string) float64 {
	t.Helper()
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	ln, lv, _ := strings.Cut(label, "=")
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && !hasLabel(m, ln, lv) {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s{%s} not registered", name, label)
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

const requestsTotal = "wasmext_module_server_requests_total"

func TestServeHit(t *testing.T) {
	store := cache.NewStore(1 << 20)
	k, b := mod("\x00asm\x01\x00\x00\x00", 5000)
	mustPut(t, store, k, b)
	srv := &cache.Server{Store: store, Key: key}
	ts := newServer(t, srv)
	hits := metric(t, "wasmext_module_cache_hits_total", "")
	ok200 := metric(t, requestsTotal, "code=200")
	ok304 := metric(t, requestsTotal, "code=304")
	sent := metric(t, "wasmext_module_server_sent_bytes_total", "")
	assertServes(t, ts, path(k), k, b)
	if got := metric(t, "wasmext_module_cache_hits_total", "") - hits; got != 3 {
		t.Fatalf("hits grew by %v, want 3", got)
	}
	if d200, d304 := metric(t, requestsTotal, "code=200")-ok200, metric(t, requestsTotal, "code=304")-ok304; d200 != 2 || d304 != 1 {
		t.Errorf("requests{code=200}, {code=304} grew by %v, %v; want 2 (GET, HEAD), 1", d200, d304)
	}
	if got := metric(t, "wasmext_module_server_sent_bytes_total", "") - sent; got != 5000 {
		t.Errorf("sent bytes grew by %v, want 5000 (one GET; HEAD and 304 send none)", got)
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

// assertServes checks that target answers GET with module b (sha256 k),
// HEAD with its headers and no body, and If-None-Match with 304.
func assertServes(t *testing.T, ts *httptest.Server, target, k string, b []byte) {
	t.Helper()
	resp, body := do(t, ts, "GET", target)
	if resp.StatusCode != 200 || !bytes.Equal(body, b) {
		t.Fatalf("GET = %d with %d bytes; want 200 with the module", resp.StatusCode, len(body))
	}
	want := map[string]string{
		"Content-Type":   "application/wasm",
		"Content-Length": fmt.Sprint(len(b)),
		"Etag":           `"sha256:` + k + `"`,
		"Cache-Control":  "public, max-age=31536000, immutable",
	}
	for h, v := range want {
		if got := resp.Header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	resp, body = do(t, ts, "HEAD", target)
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("HEAD = %d with %d bytes; want 200, no body", resp.StatusCode, len(body))
	}
	for h, v := range want {
		if got := resp.Header.Get(h); got != v {
			t.Errorf("HEAD: %s = %q, want %q", h, got, v)
		}
	}
	resp, body = do(t, ts, "GET", target, `If-None-Match: "other", W/"sha256:`+k+`"`)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("Etag") != want["Etag"] {
		t.Fatalf("conditional GET = %d with %d bytes, Etag %q; want 304 with the Etag", resp.StatusCode, len(body), resp.Header.Get("Etag"))
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
	ts := newServer(t, &cache.Server{Store: store, Key: key, Refill: refill})
	if resp, _ := do(t, ts, "GET", path(k)); resp.StatusCode != 200 {
		t.Fatalf("control request = %d, want 200", resp.StatusCode)
	}
	notFound := metric(t, requestsTotal, "code=404")
	targets := badTargets(k)
	for _, target := range targets {
		resp, body := do(t, ts, "GET", target)
		if resp.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", target, resp.StatusCode)
		}
		if bytes.Contains(body, b) || leaksKey(string(body)) || strings.Contains(string(body), k) {
			t.Errorf("GET %s: body gives away the module, the key or the path", target)
		}
	}
	if got := metric(t, requestsTotal, "code=404") - notFound; got != float64(len(targets)) {
		t.Errorf("requests{code=404} grew by %v, want %d", got, len(targets))
	}
	if n := refills.Load(); n != 0 {
		t.Errorf("Refill called %d times for refused paths", n)
	}

	for _, method := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"} {
		for _, target := range []string{path(k), "/nothing"} {
			resp, _ := do(t, ts, method, target, "Content-Length: 0")
			if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s = %d, Allow %q; want 405, GET, HEAD", method, target, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	}
}

// leaksKey reports whether s holds the key, raw or hex encoded.
func leaksKey(s string) bool {
	return strings.Contains(s, string(key)) || strings.Contains(s, hex.EncodeToString(key))
}

// TestServeURLsPerModule: each module has its own URL, and the URL of one
// opens no other, although both are stored and the request is well formed.
func TestServeURLsPerModule(t *testing.T) {
	store := cache.NewStore(1 << 20)
	ka, a := mod("module A", 300)
	kb, b := mod("module B", 300)
	mustPut(t, store, ka, a)
	mustPut(t, store, kb, b)
	srv := &cache.Server{Store: store, Key: key}
	ts := newServer(t, srv)
	if ua, ub := srv.URL(ts.URL, ka), srv.URL(ts.URL, kb); ua == ub || strings.Contains(ub, macOf(key, ka)) {
		t.Fatalf("URLs of A and B share their secret segment: %s, %s", ua, ub)
	}
	for _, target := range []string{
		"/modules/" + macOf(key, ka) + "/" + kb + ".wasm", // A's MAC, B's name
		"/modules/" + macOf(key, kb) + "/" + ka + ".wasm", // B's MAC, A's name
		"/modules/" + macOf(cache.Key("another key, also 32 bytes long.."), ka) + "/" + ka + ".wasm",
		"/modules/" + ka + "/" + ka + ".wasm", // the sha256 for a MAC
	} {
		if resp, body := do(t, ts, "GET", target); resp.StatusCode != 404 || bytes.Equal(body, a) || bytes.Equal(body, b) {
			t.Errorf("GET %s = %d; want 404", target, resp.StatusCode)
		}
	}
	for k, m := range map[string][]byte{ka: a, kb: b} {
		if resp, body := do(t, ts, "GET", path(k)); resp.StatusCode != 200 || !bytes.Equal(body, m) {
			t.Errorf("GET own URL of %s = %d; want 200 with the module", k[:8], resp.StatusCode)
		}
	}
}

// TestServeWrongMACLooksUnknown: a request with a wrong MAC, one for a
// module nobody renders and one for a path that means nothing get the same
// answer, byte for byte but the Date.
func TestServeWrongMACLooksUnknown(t *testing.T) {
	store := cache.NewStore(1 << 20)
	k, b := mod("x", 100)
	mustPut(t, store, k, b)
	kx, bx := mod("stored, not rendered", 100)
	mustPut(t, store, kx, bx)
	inUse := func(_ context.Context, sha string) (bool, error) { return sha == k, nil }
	ts := newServer(t, &cache.Server{Store: store, Key: key, InUse: inUse})
	var answers []string
	for _, target := range []string{
		"/nothing",
		"/modules/" + strings.Repeat("0", 64) + "/" + k + ".wasm",
		path(kx),
	} {
		resp, body := do(t, ts, "GET", target)
		resp.Header.Del("Date")
		var buf bytes.Buffer
		_ = resp.Header.Write(&buf)
		answers = append(answers, fmt.Sprintf("%d\n%s\n%s", resp.StatusCode, buf.String(), body))
	}
	if !strings.HasPrefix(answers[0], "404\n") || answers[1] != answers[0] || answers[2] != answers[0] {
		t.Fatalf("answers differ:\nunknown path: %q\nwrong MAC: %q\nnot rendered: %q", answers[0], answers[1], answers[2])
	}
}

func TestServeNoKeyServesNothing(t *testing.T) {
	store := cache.NewStore(1 << 20)
	k, b := mod("x", 100)
	mustPut(t, store, k, b)
	for _, kk := range []cache.Key{nil, {}, key[:cache.MinKeyLen-1]} {
		srv := &cache.Server{Store: store, Key: kk}
		ts := newServer(t, srv)
		for _, target := range []string{"/modules//" + k + ".wasm", "/modules/" + macOf(kk, k) + "/" + k + ".wasm", srv.URL("", k)} {
			if resp, _ := do(t, ts, "GET", target); resp.StatusCode != 404 {
				t.Errorf("Key of %d bytes: GET %s = %d, want 404", len(kk), target, resp.StatusCode)
			}
		}
	}
}

func TestServePrefix(t *testing.T) {
	store := cache.NewStore(1 << 20)
	k, b := mod("x", 100)
	mustPut(t, store, k, b)
	seg := macOf(key, k) + "/" + k + ".wasm"
	for _, tc := range []struct{ prefix, path string }{
		{"", "/modules/"},
		{"/wasm", "/wasm/"},
		{"wasm/", "/wasm/"},
		{"/a/b/", "/a/b/"},
		{"/", "/"},
	} {
		srv := &cache.Server{Store: store, Key: key, Prefix: tc.prefix}
		ts := newServer(t, srv)
		want := ts.URL + tc.path + seg
		if got := srv.URL(ts.URL+"/", k); got != want {
			t.Errorf("Prefix %q: URL = %s, want %s", tc.prefix, got, want)
		}
		if resp, _ := do(t, ts, "GET", tc.path+seg); resp.StatusCode != 200 {
			t.Errorf("Prefix %q: GET = %d, want 200", tc.prefix, resp.StatusCode)
		}
	}
}

func TestURL(t *testing.T) {
	srv := &cache.Server{Key: key}
	k, _ := mod("x", 1)
	for _, base := range []string{"http://wasmext-modules.wasmext-system.svc:8082", "http://wasmext-modules.wasmext-system.svc:8082/"} {
		want := "http://wasmext-modules.wasmext-system.svc:8082/modules/" + macOf(key, k) + "/" + k + ".wasm"
		if got := srv.URL(base, k); got != want {
			t.Errorf("URL(%q) = %s, want %s", base, got, want)
		}
	}
}

// badTargets are request targets near the one that serves module k with
// the test key, each of which must be a 404.
func badTargets(k string) []string {
	m := macOf(key, k)
	return []string{
		"/",
		"/modules",
		"/modules/",
		"/modules/" + m,
		"/modules/" + m + "/",
		"/modules/" + m + "/" + k,              // no .wasm
		"/modules/" + m + "/" + k + ".WASM",    // case
		"/modules/" + m + "/" + k + ".wasm/",   // trailing slash
		"/modules/" + m + "/" + k + ".wasm.gz", // suffix
		"/modules/" + m + "/" + strings.ToUpper(k) + ".wasm",               // uppercase hex
		"/modules/" + m + "/sha256:" + k + ".wasm",                         // digest form
		"/modules/" + m + "/" + k[:63] + ".wasm",                           // short
		"/modules/" + m + "/" + k + "0.wasm",                               // long
		"/modules/" + m[:63] + "/" + k + ".wasm",                           // wrong MAC: short
		"/modules/" + m[:63] + flip(m[63]) + "/" + k + ".wasm",             // wrong MAC: last char
		"/modules/" + flip(m[0]) + m[1:] + "/" + k + ".wasm",               // wrong MAC: first char
		"/modules/" + strings.ToUpper(m) + "/" + k + ".wasm",               // wrong MAC: case
		"/modules/" + m + "x/" + k + ".wasm",                               // wrong MAC: long
		"/modules/" + hex.EncodeToString(key) + "/" + k + ".wasm",          // the key itself
		"/modules//" + k + ".wasm",                                         // no MAC
		"/modules/" + k + ".wasm",                                          // no MAC
		"/modules/" + m + "/../" + m + "/" + k + ".wasm",                   // dot-dot
		"/modules/x/../" + m + "/" + k + ".wasm",                           // dot-dot past the MAC
		"/modules/./" + m + "/" + k + ".wasm",                              // dot
		"/modules/" + m + "/./" + k + ".wasm",                              // dot
		"/modules/" + m + "//" + k + ".wasm",                               // double slash
		"//modules/" + m + "/" + k + ".wasm",                               // double slash
		"/modules/" + m + "%2F" + k + ".wasm",                              // encoded slash
		"/modules/" + m + "%2f" + k + ".wasm",                              // encoded slash
		"/modules%2F" + m + "/" + k + ".wasm",                              // encoded slash
		"/modules/" + m + "/%2e%2e/" + m + "/" + k + ".wasm",               // encoded dot-dot
		"/modules/" + m + "/" + k + "%2ewasm",                              // encoded dot
		"/modules/%" + fmt.Sprintf("%X", m[0]) + m[1:] + "/" + k + ".wasm", // encoded MAC char
		"/modules/" + m + "/%" + fmt.Sprintf("%X", k[0]) + k[1:] + ".wasm", // encoded hex char
		"/modules/" + m + "/" + k + ".wasm%00",                             // NUL
		"/other/" + m + "/" + k + ".wasm",                                  // prefix
		"/modulesx/" + m + "/" + k + ".wasm",                               // prefix
		"/x/modules/" + m + "/" + k + ".wasm",                              // prefix
	}
}

// flip returns another lowercase hex digit than c.
func flip(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}
