package cache

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
)

// Refill re-obtains the bytes of a module on a Store miss; the controller
// re-pulls the pinned digest of an extension that references sha256hex. It
// returns ErrUnknown (possibly wrapped) if nothing references it. The Server
// verifies the bytes against sha256hex itself and keeps its own copy.
type Refill func(ctx context.Context, sha256hex string) ([]byte, error)

const (
	// DefaultPrefix is the path prefix a Server with no Prefix serves under.
	DefaultPrefix = "/modules"

	// refillTimeout bounds one Refill. It does not end with the request
	// that started it: other requests may be waiting on the same Refill.
	refillTimeout = 2 * time.Minute
	// retryAfter is what a 503 asks the proxy to wait, in seconds.
	retryAfter = "10"
	// cacheControl: a URL names one sha256, so its bytes never change.
	cacheControl = "public, max-age=31536000, immutable"
)

// Server serves the modules of a Store at
// <Prefix>/<Token>/<sha256hex>.wasm, for GET and HEAD only. Anything else
// is a 404 (or a 405 for other methods, whatever the path), so that a
// wrong token and a wrong path look the same. Configure the fields before
// the first request and do not change them afterwards.
type Server struct {
	Store *Store
	// Token is the unguessable path segment; see NewToken. It must be
	// non-empty and URL-safe (letters, digits, "-", ".", "_", "~"):
	// otherwise the Server serves nothing.
	Token string
	// Refill is called on a Store miss; nil means nothing is refilled.
	Refill Refill
	// Prefix is the path prefix, DefaultPrefix when empty.
	Prefix string

	flight singleflight.Group
}

// URL returns the address at which s serves the module sha256hex, for a
// Server reachable at baseURL (like "http://wasmext-modules.wasmext-system.svc:8082").
func (s *Server) URL(baseURL, sha256hex string) string {
	return strings.TrimRight(baseURL, "/") + s.prefix() + "/" + s.Token + "/" + sha256hex + ".wasm"
}

// NewToken returns 32 random bytes from crypto/rand, hex encoded.
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("cache: generating token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
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
		notFound(w)
		return
	}
	if b, ok := s.Store.Get(key); ok {
		requests.WithLabelValues(resultHit).Inc()
		serve(w, r, key, b)
		return
	}
	b, err := s.refill(r.Context(), key)
	switch {
	case err == nil:
		requests.WithLabelValues(resultMiss).Inc()
		serve(w, r, key, b)
	case errors.Is(err, ErrUnknown):
		notFound(w)
	case errors.Is(err, ErrDigestMismatch):
		requests.WithLabelValues(resultRefillError).Inc()
		httpError(w, http.StatusBadGateway)
	case r.Context().Err() != nil:
		// The client has gone; the Refill goes on for the others.
	default:
		requests.WithLabelValues(resultRefillError).Inc()
		w.Header().Set("Retry-After", retryAfter)
		httpError(w, http.StatusServiceUnavailable)
	}
}

// parse returns the sha256 named by an escaped request path of the form
// <prefix>/<token>/<64 lowercase hex>.wasm, and whether the path has that
// form and carries the right token. The path is matched byte for byte, so
// percent-encoding, "..", "//" and uppercase hex never match.
func (s *Server) parse(path string) (key string, ok bool) {
	if !validToken(s.Token) {
		return "", false
	}
	rest, ok := strings.CutPrefix(path, s.prefix()+"/")
	if !ok {
		return "", false
	}
	token, file, ok := strings.Cut(rest, "/")
	if !ok {
		return "", false
	}
	key, ok = strings.CutSuffix(file, ".wasm")
	// Compare the token even when the file name is wrong, so that timing
	// tells nothing. ConstantTimeCompare leaks only the token's length.
	tokenOK := subtle.ConstantTimeCompare([]byte(token), []byte(s.Token)) == 1
	if !tokenOK || !ok || !isSHA256Hex(key) {
		return "", false
	}
	return key, true
}

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

// validToken reports whether t is non-empty and made of URL-unreserved
// characters, so that it appears in a path exactly as written.
func validToken(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// refill obtains the module key through s.Refill, one call per key at a
// time, verifies it and stores it. A caller whose ctx ends stops waiting
// but does not cancel the Refill others may be waiting on.
func (s *Server) refill(ctx context.Context, key string) ([]byte, error) {
	if s.Refill == nil {
		return nil, ErrUnknown
	}
	ch := s.flight.DoChan(key, func() (any, error) {
		// Another flight may have just stored it.
		if b, ok := s.Store.Get(key); ok {
			return b, nil
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refillTimeout)
		defer cancel()
		b, err := s.callRefill(rctx, key)
		if err != nil {
			return nil, err
		}
		b = append([]byte(nil), b...) // ours from here on; verify what we keep
		if err := checkDigest(key, b); err != nil {
			return nil, fmt.Errorf("refill: %w", err)
		}
		// A module larger than the whole Store is served but not kept.
		s.Store.add(key, b)
		return b, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.([]byte), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// callRefill calls s.Refill, turning a panic into an error: it runs on a
// goroutine of its own, where net/http's recovery does not reach.
func (s *Server) callRefill(ctx context.Context, key string) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("refill %s panicked: %v", key, p)
		}
	}()
	return s.Refill(ctx, key)
}

// serve writes module b, whose sha256 is key, or 304 if the client has it.
func serve(w http.ResponseWriter, r *http.Request, key string, b []byte) {
	h := w.Header()
	etag := `"sha256:` + key + `"`
	h.Set("Etag", etag)
	h.Set("Cache-Control", cacheControl)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/wasm")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
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

func notFound(w http.ResponseWriter) {
	requests.WithLabelValues(resultNotFound).Inc()
	httpError(w, http.StatusNotFound)
}

func httpError(w http.ResponseWriter, code int) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(code), code)
}
