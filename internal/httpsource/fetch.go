// Package httpsource fetches a Proxy-Wasm module from an HTTP(S) URL
// pinned by the sha256 of its bytes (spec.module.http).
//
// It owns: one GET per fetch, following at most a few redirects (never
// from https down to http), trusting extra CA certificates on top of the
// system roots, accepting plain or gzip-compressed bytes (Content-Encoding
// or the gzip magic), capping what is read (body and decompressed size, as
// internal/oci does), and checking the sha256 while reading. Everything a
// server sends is treated as hostile.
//
// It must not: validate Wasm (internal/wasm does), cache modules, read
// Kubernetes objects, retry, or choose where it may connect: the caller's
// transport decides that (the operator plugs in its outbound-address
// policy). Errors wrap internal/oci's sentinels (ErrNotFound,
// ErrUnauthorized, ErrTooLarge, ErrDigestMismatch, ErrUnsupportedFormat,
// ErrInvalidReference), so the controller classifies them as it does a
// registry's; every other error is transient (ErrUnavailable among them).
package httpsource

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wasmext/wasmext/internal/netguard"
	"github.com/wasmext/wasmext/internal/oci"
)

// Defaults.
const (
	DefaultMaxRedirects = 5
	DefaultTimeout      = 5 * time.Minute
	// maxShown caps the URL shown in status and messages (status.module.repository).
	maxShown = 1024
)

// ErrUnavailable is oci.ErrUnavailable: the server could not be reached
// (see oci.Unavailable), or answered 5xx, 429 or 408. Transient: a retry
// may succeed, and the controller treats it as the outage it is.
var ErrUnavailable = oci.ErrUnavailable

// Options configures a Fetcher. The zero value is usable.
type Options struct {
	// MaxModuleSize caps the .wasm bytes and the body read.
	// oci.DefaultMaxModuleSize when 0.
	MaxModuleSize int64
	// MaxDecompressedSize caps the bytes read out of a gzip body.
	// 4*MaxModuleSize when 0 (the .wasm itself stays under MaxModuleSize).
	MaxDecompressedSize int64
	// Transport makes every request, redirects included; the operator's
	// outbound-address policy lives in it. nil is a clone of
	// http.DefaultTransport with dial, TLS and response-header timeouts,
	// guarded by netguard.Default().
	// A request with a CA needs an *http.Transport (it is cloned with the
	// extra roots); with any other RoundTripper such a request fails.
	Transport http.RoundTripper
	// MaxRedirects bounds the redirects followed; DefaultMaxRedirects when 0.
	MaxRedirects int
	// Timeout bounds one whole fetch; DefaultTimeout when 0.
	Timeout time.Duration
	// UserAgent is sent with every request when set.
	UserAgent string
}

// Request says what to fetch.
type Request struct {
	URL    string // http:// or https://
	SHA256 string // lowercase hex sha256 of the .wasm bytes
	// CA is PEM: certificates trusted in addition to the system roots.
	CA []byte
}

// Module is a fetched, sha256-checked module.
type Module struct {
	URL    string // the URL as shown (Shown)
	Wasm   []byte
	SHA256 string // lowercase hex of sha256(Wasm)
	Size   int64
	Gzip   bool // the bytes arrived gzip-compressed
}

// Fetcher fetches modules over HTTP(S). It is safe for concurrent use.
type Fetcher struct {
	o Options
}

// New returns a Fetcher with o's defaults filled in.
func New(o Options) *Fetcher {
	if o.MaxModuleSize <= 0 {
		o.MaxModuleSize = oci.DefaultMaxModuleSize
	}
	if o.MaxDecompressedSize <= 0 {
		o.MaxDecompressedSize = 4 * o.MaxModuleSize
	}
	if o.Transport == nil {
		o.Transport = defaultTransport()
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return &Fetcher{o: o}
}

func defaultTransport() *http.Transport {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	// Guarded by the default outbound-address policy even when the caller
	// passes none: no link-local or cloud-metadata address is dialed.
	t = netguard.Default().Guard(t.Clone(), &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second})
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	return t
}

// Fetch GETs req.URL and returns its .wasm bytes, capped, decompressed when
// gzip, and only if they hash to req.SHA256.
func (f *Fetcher) Fetch(ctx context.Context, req Request) (*Module, error) {
	u, err := parseURL(req.URL)
	if err != nil {
		return nil, err
	}
	shown := Shown(req.URL)
	want := strings.ToLower(req.SHA256)
	if len(want) != sha256.Size*2 || strings.Trim(want, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("%w: sha256 %q of %s is not 64 hex digits", oci.ErrInvalidReference, req.SHA256, shown)
	}
	c, done, err := f.client(req.CA)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", shown, err)
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, f.o.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", oci.ErrInvalidReference, shown, err)
	}
	// Asking for gzip ourselves stops net/http from decompressing it
	// uncapped behind our back.
	hreq.Header.Set("Accept-Encoding", "gzip")
	if f.o.UserAgent != "" {
		hreq.Header.Set("User-Agent", f.o.UserAgent)
	}
	resp, err := c.Do(hreq)
	if err != nil {
		return nil, doError(err, shown)
	}
	defer resp.Body.Close()
	if err := statusError(resp, shown); err != nil {
		return nil, err
	}
	b, gz, err := readBody(resp, limits{body: f.o.MaxModuleSize, module: f.o.MaxModuleSize, decompressed: f.o.MaxDecompressedSize}, want)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", shown, err)
	}
	return &Module{URL: shown, Wasm: b, SHA256: want, Size: int64(len(b)), Gzip: gz}, nil
}

// parseURL accepts an absolute http or https URL with a host.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: url %s: %v", oci.ErrInvalidReference, Shown(raw), redact(err))
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: url %s: want an absolute http:// or https:// URL", oci.ErrInvalidReference, Shown(raw))
	}
	return u, nil
}

// client returns the client for one fetch (with the extra roots of ca, if
// any) and what to call when it is done.
func (f *Fetcher) client(ca []byte) (*http.Client, func(), error) {
	rt, done := f.o.Transport, func() {}
	if len(ca) > 0 {
		base, ok := f.o.Transport.(*http.Transport)
		if !ok {
			return nil, nil, fmt.Errorf("a custom CA needs an *http.Transport, the operator has a %T", f.o.Transport)
		}
		pool, err := rootsWith(ca)
		if err != nil {
			return nil, nil, err
		}
		t := base.Clone()
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		t.TLSClientConfig.RootCAs = pool
		rt, done = t, t.CloseIdleConnections
	}
	limit := f.o.MaxRedirects
	return &http.Client{Transport: rt, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if len(via) > limit {
			return fmt.Errorf("%w (%d)", errRedirects, limit)
		}
		if r.URL.Scheme != "https" && via[len(via)-1].URL.Scheme == "https" {
			return fmt.Errorf("%w: redirect from https to %s refused", oci.ErrInvalidReference, Shown(r.URL.String()))
		}
		return nil
	}}, done, nil
}

// ErrInvalidCA: the CA bytes hold no usable PEM certificate. It wraps
// oci.ErrInvalidPullSecret (a person must fix the Secret).
var ErrInvalidCA = fmt.Errorf("%w: no PEM certificate in ca.crt", oci.ErrInvalidPullSecret)

// rootsWith returns the system roots plus the certificates in ca (PEM).
func rootsWith(ca []byte) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(ca) {
		return nil, ErrInvalidCA
	}
	return pool, nil
}

// statusError maps a non-200 answer to its sentinel.
func statusError(resp *http.Response, shown string) error {
	code := resp.StatusCode
	what := fmt.Sprintf("fetch %s: HTTP %d", shown, code)
	switch {
	case code == http.StatusOK:
		return nil
	case code == http.StatusNotFound || code == http.StatusGone:
		return fmt.Errorf("%s: %w", what, oci.ErrNotFound)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("%s: %w", what, oci.ErrUnauthorized)
	case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		return fmt.Errorf("%s: %w", what, ErrUnavailable)
	}
	return fmt.Errorf("%s: unexpected answer", what)
}

// Shown is raw as it may be shown in status, messages and logs: without
// userinfo, query and fragment (where secrets of pre-signed URLs live),
// and at most maxShown bytes.
func Shown(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Cut at the first character that may start a secret.
		if i := strings.IndexAny(raw, "?#@"); i >= 0 {
			raw = raw[:i]
		}
		u = &url.URL{Opaque: raw}
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	s := u.String()
	if len(s) > maxShown {
		s = s[:maxShown-3] + "..."
	}
	return s
}

// errRedirects: the server redirected more often than MaxRedirects.
var errRedirects = errors.New("stopped after too many redirects")

// doError wraps an error of http.Client.Do: ErrUnavailable when the server
// could not be reached (oci.Unavailable: not for a TLS or certificate
// error, nor for an address the transport refused); anything else (a
// refused redirect among them) is what it is.
func doError(err error, shown string) error {
	err = redact(err)
	if oci.Unavailable(err) && !errors.Is(err, oci.ErrInvalidReference) {
		return fmt.Errorf("fetch %s: %w: %w", shown, ErrUnavailable, err)
	}
	return fmt.Errorf("fetch %s: %w", shown, err)
}

// redact removes the URL (with its possible secrets) from a *url.Error,
// keeping what went wrong.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, Shown(ue.URL), ue.Err)
	}
	return err
}
