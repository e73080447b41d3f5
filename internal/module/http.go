package module

import (
	"context"
	"errors"
	"fmt"

	"github.com/wasmext/wasmext/internal/httpsource"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/wasm"
)

// FormatHTTP is the format of a module fetched from an HTTP(S) URL: bare
// .wasm bytes (or gzip of them), no OCI artifact around them.
const FormatHTTP oci.Format = "http"

// HTTPFetcher is the part of *httpsource.Fetcher the loader needs.
type HTTPFetcher interface {
	Fetch(ctx context.Context, req httpsource.Request) (*httpsource.Module, error)
}

// ErrNoHTTP means the loader was given no HTTPFetcher.
var ErrNoHTTP = errors.New("the operator fetches no http modules")

// WithHTTP lets the loader fetch modules from HTTP(S) URLs with f.
func (l *Loader) WithHTTP(f HTTPFetcher) *Loader {
	l.http = f
	return l
}

// httpKey keys an http module by URL and sha256: like repository@digest,
// the facts are only reused for a source that named the same place (the
// caller reached it), never for another URL claiming the same hash.
func httpKey(req httpsource.Request) string { return "http:" + req.SHA256 + "@" + req.URL }

// LoadHTTP returns the facts of the module at req.URL pinned by
// req.SHA256, fetching and inspecting it once; pulled says whether this
// call fetched it. Repository is the URL as shown (no userinfo or query),
// Digest "sha256:<hex>" of the .wasm, Format FormatHTTP. Errors wrap the
// oci, httpsource and wasm sentinel errors.
func (l *Loader) LoadHTTP(ctx context.Context, req httpsource.Request) (f Facts, pulled bool, err error) {
	key := httpKey(req)
	if v, ok := l.facts.Get(key); ok {
		return v.(Facts), false, nil
	}
	v, err, _ := l.flight.Do(key, func() (any, error) {
		pulled = true
		m, info, err := l.pullHTTP(ctx, req)
		if err != nil {
			return Facts{}, err
		}
		f := Facts{Repository: m.URL, Digest: "sha256:" + m.SHA256, SHA256: m.SHA256, Size: m.Size,
			Format: FormatHTTP, ABI: info.ABI, Imports: info.Imports}
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

// BytesHTTP fetches the module at req.URL again and returns its bytes
// after the checks LoadHTTP makes (the module server's refill). It neither
// reads nor fills the facts cache.
func (l *Loader) BytesHTTP(ctx context.Context, req httpsource.Request) ([]byte, error) {
	m, _, err := l.pullHTTP(ctx, req)
	if err != nil {
		return nil, err
	}
	return m.Wasm, nil
}

// pullHTTP fetches (sha256-checked by the fetcher) and inspects.
func (l *Loader) pullHTTP(ctx context.Context, req httpsource.Request) (*httpsource.Module, wasm.Facts, error) {
	if l.http == nil {
		return nil, wasm.Facts{}, fmt.Errorf("%w: %s", ErrNoHTTP, httpsource.Shown(req.URL))
	}
	m, err := l.http.Fetch(ctx, req)
	if err != nil {
		return nil, wasm.Facts{}, err
	}
	if m.SHA256 != req.SHA256 {
		return nil, wasm.Facts{}, fmt.Errorf("%w: %s returned sha256 %s, want %s", oci.ErrDigestMismatch, m.URL, m.SHA256, req.SHA256)
	}
	info, err := wasm.Inspect(ctx, m.Wasm)
	if err != nil {
		return nil, wasm.Facts{}, fmt.Errorf("module %s (sha256 %s): %w", m.URL, m.SHA256, err)
	}
	return m, info, nil
}
