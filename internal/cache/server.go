package cache

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/utils/clock"
)

// Refill re-obtains the bytes of a module on a Store miss; the controller
// re-pulls the pinned digest of an extension that references sha256hex. It
// returns ErrUnknown (possibly wrapped) if nothing references it. The Server
// verifies the bytes against sha256hex itself and keeps its own copy.
type Refill func(ctx context.Context, sha256hex string) ([]byte, error)

// InUse reports whether some extension renders the module sha256hex now;
// the controller answers from its informer cache. See Server.InUse.
type InUse func(ctx context.Context, sha256hex string) (bool, error)

const (
	// DefaultPrefix is the path prefix a Server with no Prefix serves under.
	DefaultPrefix = "/modules"
	// DefaultGrace is how long a module stays served after the last
	// extension stops rendering it: long enough for the proxies of a
	// rollout that began before the change to load it.
	DefaultGrace = 2 * time.Minute

	// refillTimeout bounds one Refill. It does not end with the request
	// that started it: other requests may be waiting on the same Refill.
	refillTimeout = 2 * time.Minute
	// retryAfter is what a 503 asks the proxy to wait, in seconds.
	retryAfter = "10"
	// cacheControl: a URL names one sha256, so its bytes never change.
	cacheControl = "public, max-age=31536000, immutable"
)

// Server serves the modules of a Store at
// <Prefix>/<hex HMAC-SHA256(Key, sha256hex)>/<sha256hex>.wasm, for GET and
// HEAD only, and only while the module is in use. Anything else is a 404
// (or a 405 for other methods, whatever the path), so that a wrong MAC, a
// module nobody renders and a wrong path look the same. Configure the
// fields before the first request and do not change them afterwards.
type Server struct {
	Store *Store
	// Key derives the per-module path segment, so that the URL of one
	// module tells nothing about the URL of another. It must be the same
	// on every replica and at least MinKeyLen bytes: otherwise the Server
	// serves nothing.
	Key Key
	// Refill is called on a Store miss; nil means nothing is refilled.
	Refill Refill
	// InUse gates every request: a module is served only while InUse says
	// some extension renders it, or for Grace after Seen. nil serves every
	// module the Store holds or Refill finds (for tests).
	InUse InUse
	// Grace is how long after Seen a module is served although InUse says
	// no extension renders it any more (zero: not at all).
	Grace time.Duration
	// Clock measures Grace; nil is the real clock.
	Clock clock.PassiveClock
	// Prefix is the path prefix, DefaultPrefix when empty.
	Prefix string

	flight singleflight.Group
	mu     sync.Mutex
	seen   map[string]time.Time // sha256 -> last time Seen
}

// URL returns the address at which s serves the module sha256hex, for a
// Server reachable at baseURL (like "http://wasmext-modules.wasmext-system.svc:8082").
func (s *Server) URL(baseURL, sha256hex string) string {
	return strings.TrimRight(baseURL, "/") + s.prefix() + "/" + s.key().mac(sha256hex) + "/" + sha256hex + ".wasm"
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed)
		return
	}
	key, ok := s.parse(r.URL.EscapedPath())
	if !ok {
		httpError(w, http.StatusNotFound)
		return
	}
	switch served, err := s.served(r.Context(), key); {
	case err != nil:
		w.Header().Set("Retry-After", retryAfter)
		httpError(w, http.StatusServiceUnavailable)
		return
	case !served:
		httpError(w, http.StatusNotFound)
		return
	}
	if bl, ok := s.Store.open(key); ok {
		defer bl.close()
		hits.Inc()
		serve(w, r, key, bl)
		return
	}
	misses.Inc()
	s.serveRefilled(w, r, key)
}

// serveRefilled answers a miss with what Refill obtains.
func (s *Server) serveRefilled(w http.ResponseWriter, r *http.Request, key string) {
	b, err := s.refill(r.Context(), key)
	switch {
	case err == nil:
		serve(w, r, key, &blob{size: int64(len(b)), b: b})
	case errors.Is(err, ErrUnknown):
		httpError(w, http.StatusNotFound)
	case errors.Is(err, ErrDigestMismatch):
		httpError(w, http.StatusBadGateway)
	case r.Context().Err() != nil:
		// The client has gone; the Refill goes on for the others.
	default:
		w.Header().Set("Retry-After", retryAfter)
		httpError(w, http.StatusServiceUnavailable)
	}
}

// parse returns the sha256 named by an escaped request path of the form
// <prefix>/<64 lowercase hex MAC>/<64 lowercase hex sha256>.wasm, and
// whether the path has that form and carries the MAC of that sha256. The
// path is matched byte for byte, so percent-encoding, "..", "//" and
// uppercase hex never match.
func (s *Server) parse(path string) (key string, ok bool) {
	k := s.key()
	if !k.valid() {
		return "", false
	}
	rest, ok := strings.CutPrefix(path, s.prefix()+"/")
	if !ok {
		return "", false
	}
	mac, file, ok := strings.Cut(rest, "/")
	if !ok {
		return "", false
	}
	key, ok = strings.CutSuffix(file, ".wasm")
	// Compute and compare the MAC even when the file name is wrong, so
	// that timing tells nothing; the comparison takes constant time.
	macOK := subtle.ConstantTimeCompare([]byte(mac), []byte(k.mac(key))) == 1
	if !macOK || !ok || !isSHA256Hex(key) {
		return "", false
	}
	return key, true
}

func (s *Server) key() Key { return s.Key }

func (s *Server) prefix() string {
	if s.Prefix == "" {
		return DefaultPrefix
	}
	p := strings.Trim(s.Prefix, "/")
	if p == "" {
		return ""
	}
	return "/" + p
}
