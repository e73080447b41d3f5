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
// the path is exactly <prefix>/<token>/<sha256>.wasm with the right token,
// and what it serves must be the module named.
func FuzzServePath(f *testing.F) {
	stored, storedB := mod("stored", 300)
	refilled, refilledB := mod("refilled", 200)
	modules := map[string][]byte{stored: storedB, refilled: refilledB}
	for _, target := range append(badTargets(stored),
		"/modules/"+token+"/"+stored+".wasm",
		"/modules/"+token+"/"+refilled+".wasm",
		"/modules/"+token+"/"+refilled+".wasm?x=1",
		"http://modules/modules/"+token+"/"+stored+".wasm",
		"*",
	) {
		f.Add("GET", target)
	}
	f.Add("HEAD", "/modules/"+token+"/"+stored+".wasm")
	f.Add("POST", "/modules/"+token+"/"+stored+".wasm")

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
		right := func(key string) bool {
			return req.URL.EscapedPath() == "/modules/"+token+"/"+key+".wasm"
		}
		srv := &cache.Server{Store: store, Token: token, Refill: func(_ context.Context, key string) ([]byte, error) {
			if !right(key) {
				t.Errorf("%s %q: Refill(%s) without the right path and token", method, target, key)
			}
			if b, ok := modules[key]; ok {
				return b, nil
			}
			return nil, cache.ErrUnknown
		}}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)

		switch rec.Code {
		case 200, 304:
			key := strings.TrimSuffix(strings.TrimPrefix(rec.Header().Get("Etag"), `"sha256:`), `"`)
			if !right(key) || !strings.Contains(target, "/"+token+"/") {
				t.Fatalf("%s %q = %d for %s without the right path and token", method, target, rec.Code, key)
			}
			want := modules[key]
			if req.Method == "HEAD" || rec.Code == 304 {
				want = nil
			}
			if !bytes.Equal(rec.Body.Bytes(), want) {
				t.Fatalf("%s %q served %d bytes that are not module %s", method, target, rec.Body.Len(), key)
			}
		case 404, 405:
			if bytes.Contains(rec.Body.Bytes(), []byte(token)) {
				t.Fatalf("%s %q: %d body gives the token away", method, target, rec.Code)
			}
		default:
			t.Fatalf("%s %q = %d", method, target, rec.Code)
		}
	})
}
