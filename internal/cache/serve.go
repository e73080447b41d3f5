package cache

import (
	"net/http"
	"strconv"
	"strings"
)

// serve writes module bl, whose sha256 is key, or 304 if the client has it.
func serve(w http.ResponseWriter, r *http.Request, key string, bl *blob) {
	h := w.Header()
	etag := `"sha256:` + key + `"`
	h.Set("Etag", etag)
	h.Set("Cache-Control", cacheControl)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		countRequest(http.StatusNotModified)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/wasm")
	h.Set("Content-Length", strconv.FormatInt(bl.size, 10))
	h.Set("X-Content-Type-Options", "nosniff")
	countRequest(http.StatusOK)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		n, _ := bl.writeTo(w)
		sentBytes.Add(float64(n))
	}
}

// etagMatch reports whether an If-None-Match header value lists etag
// (weak comparison, RFC 9110 section 13.1.2).
func etagMatch(header, etag string) bool {
	for header != "" {
		var tag string
		tag, header, _ = strings.Cut(header, ",")
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}

// httpError answers code with its status text and nothing else: no path,
// no module, no key.
func httpError(w http.ResponseWriter, code int) {
	countRequest(code)
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(code), code)
}
