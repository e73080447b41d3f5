// Package ocitest runs an in-process OCI registry and pushes Wasm modules to
// it in every format package oci reads, for tests, demos and benchmarks.
//
// It owns: the test registry (go-containerregistry's, over plain HTTP on
// 127.0.0.1), request counting, optional basic auth, fault injection
// (corrupted responses) and the push helpers. It must not be imported by
// production code and must not listen anywhere but loopback.
package ocitest

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/opencontainers/go-digest"
)

// Registry is an in-process OCI registry on an httptest server.
type Registry struct {
	// Host is "127.0.0.1:port"; images are Host + "/" + repo + ":" + tag.
	Host string

	srv *httptest.Server
	reg http.Handler

	mu      sync.Mutex
	counts  Counts
	perRepo map[string]*Counts
	user    string
	pass    string
	corrupt map[digest.Digest]bool
}

// Counts of requests the registry served, 401s included.
type Counts struct {
	ManifestGET, ManifestHEAD int64
	BlobGET, BlobHEAD         int64
	Other                     int64 // uploads, manifest PUTs, /v2/ pings, referrers, tags
	Total                     int64
}

// NewRegistry starts a registry that tb's Cleanup closes.
func NewRegistry(tb testing.TB) *Registry {
	tb.Helper()
	r, err := StartRegistry()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.Close)
	return r
}

// StartRegistry starts a registry; the caller must Close it.
func StartRegistry() (*Registry, error) {
	r := &Registry{
		reg: registry.New(
			registry.Logger(log.New(io.Discard, "", 0)),
			registry.WithReferrersSupport(true),
		),
		perRepo: map[string]*Counts{},
		corrupt: map[digest.Digest]bool{},
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.Host = strings.TrimPrefix(r.srv.URL, "http://")
	if r.Host == r.srv.URL {
		r.srv.Close()
		return nil, fmt.Errorf("ocitest: unexpected server URL %q", r.srv.URL)
	}
	return r, nil
}

// Close stops the server.
func (r *Registry) Close() { r.srv.Close() }

// Ref returns Host + "/" + repoTag.
func (r *Registry) Ref(repoTag string) string { return r.Host + "/" + repoTag }

// RequireAuth makes the registry answer 401 with a Basic challenge to any
// request without these credentials. Empty user turns auth off.
func (r *Registry) RequireAuth(user, pass string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.user, r.pass = user, pass
}

// Corrupt makes GETs of the blob or manifest d answer with its last byte
// flipped, headers (Docker-Content-Digest, Content-Length) unchanged.
func (r *Registry) Corrupt(d digest.Digest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.corrupt[d] = true
}

// Counts returns the counts over all repositories.
func (r *Registry) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}

// CountsFor returns the counts for one repository (e.g. "acme/filter").
func (r *Registry) CountsFor(repo string) Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.perRepo[repo]; c != nil {
		return *c
	}
	return Counts{}
}

// Reset zeroes all counts.
func (r *Registry) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts = Counts{}
	clear(r.perRepo)
}

func (r *Registry) serve(w http.ResponseWriter, req *http.Request) {
	repo, kind, ref := classifyPath(req.URL.Path)
	r.mu.Lock()
	r.count(repo, kind, req.Method)
	user, pass := r.user, r.pass
	corrupt := req.Method == http.MethodGet && (kind == "manifests" || kind == "blobs") && r.corrupt[digest.Digest(ref)]
	r.mu.Unlock()

	if user != "" {
		if u, p, ok := req.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="ocitest"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
	}
	if !corrupt {
		r.reg.ServeHTTP(w, req)
		return
	}
	rec := httptest.NewRecorder()
	r.reg.ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	if n := len(body); n > 0 {
		body[n-1] ^= 0xff
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = io.Copy(w, bytes.NewReader(body))
}

// count records one request; r.mu must be held.
func (r *Registry) count(repo, kind, method string) {
	pc := r.perRepo[repo]
	if pc == nil {
		pc = &Counts{}
		r.perRepo[repo] = pc
	}
	for _, c := range []*Counts{&r.counts, pc} {
		c.Total++
		switch {
		case kind == "manifests" && method == http.MethodGet:
			c.ManifestGET++
		case kind == "manifests" && method == http.MethodHead:
			c.ManifestHEAD++
		case kind == "blobs" && method == http.MethodGet:
			c.BlobGET++
		case kind == "blobs" && method == http.MethodHead:
			c.BlobHEAD++
		default:
			c.Other++
		}
	}
}

// classifyPath splits "/v2/<repo>/<kind>/<ref>" where kind is manifests,
// blobs, tags or referrers. Blob uploads ("/blobs/uploads/…") give kind
// "uploads"; unknown paths give "".
func classifyPath(p string) (repo, kind, ref string) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", "", ""
	}
	if i := strings.LastIndex(rest, "/blobs/uploads"); i > 0 {
		return rest[:i], "uploads", ""
	}
	for _, k := range []string{"manifests", "blobs", "tags", "referrers"} {
		if i := strings.LastIndex(rest, "/"+k+"/"); i > 0 {
			return rest[:i], k, rest[i+len(k)+2:]
		}
	}
	return "", "", ""
}
