package cache_test

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wasmext/wasmext/internal/cache"
)

// FuzzServePath sends arbitrary request lines through net/http's own
// request parser to the Server. It must never panic, never answer other
// than 200/304/404/405, never call Refill and never serve a module unless
// the path is exactly <prefix>/<MAC of the sha256>/<sha256>.wasm, and what
// it serves must be the module named.
func FuzzServePath(f *testing.F) {
	stored, storedB := mod("stored", 300)
	refilled, refilledB := mod("refilled", 200)
	modules := map[string][]byte{stored: storedB, refilled: refilledB}
	for _, target := range append(badTargets(stored),
		path(stored),
		path(refilled),
		path(refilled)+"?x=1",
		"http://modules"+path(stored),
		"/modules/"+macOf(key, stored)+"/"+refilled+".wasm",
		"*",
	) {
		f.Add("GET", target)
	}
	f.Add("HEAD", path(stored))
	f.Add("POST", path(stored))

	f.Fuzz(func(t *testing.T, method, target string) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(
			method + " " + target + " HTTP/1.1\r\nHost: modules\r\n\r\n")))
		if err != nil {
			return // net/http would answer 400 before any handler runs
		}
		store := cache.NewStore(1 << 10)
		if err := store.Put(stored, storedB); err != nil {
			t.Fatal(err)
		}
		right := func(sha string) bool { return req.URL.EscapedPath() == path(sha) }
		srv := &cache.Server{Store: store, Key: key, Refill: func(_ context.Context, sha string) ([]byte, error) {
			if !right(sha) {
				t.Errorf("%s %q: Refill(%s) without the right path and MAC", method, target, sha)
			}
			if b, ok := modules[sha]; ok {
				return b, nil
			}
			return nil, cache.ErrUnknown
		}}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)

		switch rec.Code {
		case 200, 304:
			sha := strings.TrimSuffix(strings.TrimPrefix(rec.Header().Get("Etag"), `"sha256:`), `"`)
			if !right(sha) || !strings.Contains(target, "/"+macOf(key, sha)+"/") {
				t.Fatalf("%s %q = %d for %s without the right path and MAC", method, target, rec.Code, sha)
			}
			want := modules[sha]
			if req.Method == "HEAD" || rec.Code == 304 {
				want = nil
			}
			if !bytes.Equal(rec.Body.Bytes(), want) {
				t.Fatalf("%s %q served %d bytes that are not module %s", method, target, rec.Body.Len(), sha)
			}
		case 404, 405:
			if leaksKey(rec.Body.String()) {
				t.Fatalf("%s %q: %d body gives the key away", method, target, rec.Code)
			}
		default:
			t.Fatalf("%s %q = %d", method, target, rec.Code)
		}
	})
}
