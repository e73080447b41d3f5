// Package ocitest runs an in-process OCI registry and pushes Wasm modules to
// it in every format package oci reads, for tests, demos and benchmarks.
//
// It owns: the test registry (go-containerregistry's, over plain HTTP on
// 127.0.0.1), request counting, optional basic auth, fault injection
// (corrupted and lying responses) and the push helpers. It must not be imported by
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
	lies    map[digest.Digest]Override
}

// Override changes how the registry answers GETs of one blob or manifest.
type Override struct {
	// Header values replace the registry's own (e.g. a Docker-Content-Digest
	// naming other content).
	Header http.Header
	// Body, when set, replaces the content: the answer is 200 with the
	// bytes Body returns, streamed without a Content-Length (chunked),
	// whatever the registry holds or the descriptor says. It is called once
	// per GET.
	Body func() io.Reader
	// Status, when set, is the answer instead: that status code with an OCI
	// error body (e.g. 404 for a manifest an index names but the registry
	// lost).
	Status int
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
		lies:    map[digest.Digest]Override{},
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

// Override makes GETs of the blob or manifest d answer as o says.
func (r *Registry) Override(d digest.Digest, o Override) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lies[d] = o
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
	content := req.Method == http.MethodGet && (kind == "manifests" || kind == "blobs")
	corrupt := content && r.corrupt[digest.Digest(ref)]
	lie, lies := r.lies[digest.Digest(ref)]
	lies = lies && content
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
	switch {
	case lies && lie.Status != 0:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(lie.Status)
		_, _ = fmt.Fprintf(w, `{"errors":[{"code":"UNKNOWN","message":"ocitest: status %d for %s"}]}`, lie.Status, ref)
	case lies && lie.Body != nil:
		stream(w, ref, lie)
	case corrupt || lies:
		r.rewrite(w, req, corrupt, lie.Header)
	default:
		r.reg.ServeHTTP(w, req)
	}
}

// rewrite serves req through the registry, flips the last byte of the body
// when corrupt, and sets header's values over the registry's own.
func (r *Registry) rewrite(w http.ResponseWriter, req *http.Request, corrupt bool, header http.Header) {
	rec := httptest.NewRecorder()
	r.reg.ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	if n := len(body); n > 0 && corrupt {
		body[n-1] ^= 0xff
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = io.Copy(w, bytes.NewReader(body))
}

// stream answers 200 with o.Body's bytes, chunked, as content ref.
func stream(w http.ResponseWriter, ref string, o Override) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Docker-Content-Digest", ref)
	for k, v := range o.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush() // headers out now: no Content-Length, the body is chunked
	}
	_, _ = io.Copy(w, o.Body()) // fails once the client hangs up
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
