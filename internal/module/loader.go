// Package module joins the fetch and inspect stages: it turns a resolved,
// digest-pinned OCI reference (or an HTTP(S) URL pinned by sha256, http.go)
// into the facts the controller renders from, pulling and inspecting each
// distinct module only once.
//
// It owns the in-memory facts cache (keyed by repository@digest, bounded,
// least-recently-used) and de-duplicates concurrent loads of one digest. It
// must not talk to the Kubernetes API or decide policy: callers authorize
// access first (a manifest request with the caller's own credentials) and
// classify the errors it returns.
package module

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"
	"k8s.io/utils/lru"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/wasm"
)

// Facts is what the operator verified about one module.
type Facts struct {
	Repository string     // registry/repository
	Digest     string     // manifest digest, sha256:<hex>
	SHA256     string     // hex sha256 of the .wasm bytes
	Size       int64      // size of the .wasm bytes
	Format     oci.Format // packaging the bytes were found in
	ABI        string     // the first ABI marker Envoy knows, e.g. proxy_abi_version_0_2_1
	Imports    []string   // imported host functions, module.name
	Layout     oci.Layout // how the artifact is packed (delivery Registry checks it)
}

// Fetcher is the part of *oci.Fetcher the loader needs.
type Fetcher interface {
	Fetch(ctx context.Context, req oci.Request, d digest.Digest) (*oci.Module, error)
}

// Loader fetches and inspects modules, remembering the facts of each.
type Loader struct {
	fetcher Fetcher
	facts   *lru.Cache
	flight  singleflight.Group
	keep    func(sha256hex string, wasm []byte)
	http    HTTPFetcher   // fetches http modules (http.go); nil refuses them
	pulls   chan struct{} // one token per pull in progress (MaxPulls)
}

// MaxPulls is how many distinct modules are fetched and inspected at once.
// A pull holds its module's bytes until the inspection, which compiles
// within wasm.DefaultBudget, is done: with 16 reconciles each holding a
// 3.3 MB Go module while they waited for the budget, 50 such modules
// applied at once peaked at 205 MiB RSS, 179 MiB with 8 (make bench,
// test/bench/manymodules). Four keep fetches from a slow registry
// overlapping without that cost.
const MaxPulls = 4

// NewLoader returns a Loader remembering the facts of up to size modules.
func NewLoader(f Fetcher, size int) *Loader {
	if size <= 0 {
		size = 1024
	}
	return &Loader{fetcher: f, facts: lru.New(size), pulls: make(chan struct{}, MaxPulls)}
}

// KeepBytes hands the bytes of every module that passed inspection to keep
// (the module server's store), so proxies can be served without a re-pull.
func (l *Loader) KeepBytes(keep func(sha256hex string, wasm []byte)) *Loader {
	l.keep = keep
	return l
}

// Load returns the facts of the module at req's repository and digest d,
// fetching and inspecting it unless an earlier Load already did; pulled
// says whether this call pulled it. Errors wrap the oci and wasm sentinel
// errors.
func (l *Loader) Load(ctx context.Context, req oci.Request, repository string, d digest.Digest) (f Facts, pulled bool, err error) {
	key := repository + "@" + d.String()
	if v, ok := l.facts.Get(key); ok {
		return v.(Facts), false, nil
	}
	// Only the caller whose function runs pulls; callers that joined it
	// share the result without pulling.
	v, err, _ := l.flight.Do(key, func() (any, error) {
		pulled = true
		m, info, err := l.pull(ctx, req, repository, d)
		if err != nil {
			return Facts{}, err
		}
		f := Facts{
			Repository: repository, Digest: d.String(), SHA256: m.SHA256, Size: m.Size,
			Format: m.Format, ABI: info.ABI, Imports: info.Imports, Layout: m.Layout,
		}
		if l.keep != nil {
			l.keep(m.SHA256, m.Wasm)
		}
		l.facts.Add(key, f)
		return f, nil
	})
	if err != nil {
		return Facts{}, false, err
	}
	return v.(Facts), pulled, nil
}

// pull fetches the module at repository@d and inspects it.
func (l *Loader) pull(ctx context.Context, req oci.Request, repository string, d digest.Digest) (*oci.Module, wasm.Facts, error) {
	select {
	case l.pulls <- struct{}{}:
		defer func() { <-l.pulls }()
	case <-ctx.Done():
		return nil, wasm.Facts{}, ctx.Err()
	}
	m, err := l.fetcher.Fetch(ctx, req, d)
	if err != nil {
		return nil, wasm.Facts{}, err
	}
	info, err := wasm.Inspect(ctx, m.Wasm)
	if err != nil {
		return nil, wasm.Facts{}, fmt.Errorf("module %s@%s: %w", repository, d, err)
	}
	return m, info, nil
}

// ErrContentChanged means a digest-pinned pull returned bytes with another
// sha256 than the one recorded.
var ErrContentChanged = errors.New("module content changed")

// Bytes pulls the module at repository@d again and returns its .wasm bytes
// after the checks Load makes, and only if they still hash to wantSHA256
// (the module server's refill after a restart or an eviction). It neither
// reads nor fills the facts cache: the caller needs the bytes themselves.
func (l *Loader) Bytes(ctx context.Context, req oci.Request, repository string, d digest.Digest, wantSHA256 string) ([]byte, error) {
	m, _, err := l.pull(ctx, req, repository, d)
	if err != nil {
		return nil, err
	}
	if m.SHA256 != wantSHA256 {
		return nil, fmt.Errorf("%w: %s@%s now holds sha256 %s, not %s", ErrContentChanged, repository, d, m.SHA256, wantSHA256)
	}
	return m.Wasm, nil
}
