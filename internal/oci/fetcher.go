package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/wasmext/wasmext/internal/netguard"
)

// Default caps.
const (
	DefaultMaxModuleSize = 256 << 20 // 256 MiB
	// MaxManifestSize caps a manifest read; real Wasm manifests are < 4 KiB.
	MaxManifestSize = 4 << 20
	// maxAuthCaches bounds the per-credential token caches a Fetcher keeps.
	maxAuthCaches = 1024
)

// Options configures a Fetcher. The zero value is usable.
type Options struct {
	// MaxModuleSize caps the .wasm bytes and any single layer read.
	// DefaultMaxModuleSize when 0.
	MaxModuleSize int64
	// MaxDecompressedSize caps the bytes read out of a gzip layer.
	// 4*MaxModuleSize when 0.
	MaxDecompressedSize int64
	// HTTPClient is used for every registry request. nil means a client with
	// dial, TLS, response-header and overall timeouts whose every connection
	// (registry, token realm, redirect) goes through Guard.
	HTTPClient *http.Client
	// Guard refuses link-local, cloud-metadata and policy-denied
	// destinations on the default client's connections; nil is
	// netguard.Default(). It is not applied to a given HTTPClient (guard
	// its transport with netguard.Policy.Guard).
	Guard *netguard.Policy
	// UserAgent is sent with every request when set.
	UserAgent string
	// WrapTransport, when set, wraps the transport of every request
	// (registry, token realm, redirect), e.g. to count them
	// (metrics.Transport).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Fetcher resolves and fetches Wasm modules. It is safe for concurrent use.
type Fetcher struct {
	lim       limits
	client    *http.Client
	userAgent string

	mu     sync.Mutex
	caches map[string]auth.Cache // token caches, one per (host, credential)
}

// NewFetcher returns a Fetcher with o's defaults filled in.
func NewFetcher(o Options) *Fetcher {
	if o.MaxModuleSize <= 0 {
		o.MaxModuleSize = DefaultMaxModuleSize
	}
	if o.MaxDecompressedSize <= 0 {
		o.MaxDecompressedSize = 4 * o.MaxModuleSize
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient(o.Guard)
	}
	if o.WrapTransport != nil {
		c := *o.HTTPClient
		c.Transport = o.WrapTransport(c.Transport)
		o.HTTPClient = &c
	}
	return &Fetcher{
		lim:       limits{module: o.MaxModuleSize, decompressed: o.MaxDecompressedSize},
		client:    o.HTTPClient,
		userAgent: o.UserAgent,
		caches:    map[string]auth.Cache{},
	}
}

func defaultHTTPClient(guard *netguard.Policy) *http.Client {
	t := guard.Guard(nil, &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second})
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	t.ExpectContinueTimeout = time.Second
	return &http.Client{Transport: t, Timeout: 5 * time.Minute}
}

// Request says what to fetch and how to reach it.
type Request struct {
	// Image is the reference, e.g. "127.0.0.1:5000/acme/filter:1.0" or
	// "ghcr.io/acme/filter@sha256:<hex>".
	Image string
	// Insecure uses plain HTTP.
	Insecure bool
	// Credential for the image's registry; the zero value is anonymous.
	Credential auth.Credential
}

// Resolved is the manifest descriptor a reference points at.
type Resolved struct {
	Repository string // registry/repository
	Digest     digest.Digest
	MediaType  string
	Size       int64
}

// Module is a fetched Wasm module.
type Module struct {
	Repository string        // registry/repository
	Digest     digest.Digest // manifest digest
	Wasm       []byte
	SHA256     string // lowercase hex of sha256(Wasm)
	Size       int64  // len(Wasm)
	Format     Format
	Layout     Layout
}

// Layout is how a module's artifact is packed, as far as a proxy pulling
// it from the registry itself would care (istio-agent goes by layer media
// types and takes the first tar entry whose base name is plugin.wasm).
type Layout struct {
	// LayerMediaTypes are the manifest's layer media types, in order.
	LayerMediaTypes []string
	// LayerGzip: for image formats, the layer's bytes are a gzip stream.
	LayerGzip bool
	// ShadowingEntry: for image formats, an entry before plugin.wasm whose
	// base name is plugin.wasm too (e.g. lib/plugin.wasm); empty if none.
	ShadowingEntry string
	// IndexPlatform: the manifest digest fetched is an image index, and the
	// module was read from its manifest for this platform (e.g.
	// "wasip1/wasm"); empty when it was no index. istio-agent resolves an
	// index to its linux/amd64 entry, so it cannot pull such an artifact.
	IndexPlatform string
	// PlatformManifest is the digest of that platform's manifest.
	PlatformManifest digest.Digest
}

// repository builds an oras-go repository for ref that authenticates with
// cred and only with cred.
func (f *Fetcher) repository(ref Reference, req Request) *remote.Repository {
	hdr := http.Header{}
	if f.userAgent != "" {
		hdr.Set("User-Agent", f.userAgent)
	}
	return &remote.Repository{
		Reference: registry.Reference{Registry: ref.Registry, Repository: ref.Repository},
		PlainHTTP: req.Insecure,
		Client: &auth.Client{
			Client:     f.client,
			Header:     hdr,
			Credential: auth.StaticCredential(ref.Registry, req.Credential),
			Cache:      f.authCache(ref.Registry, req.Credential),
		},
		MaxMetadataBytes: MaxManifestSize,
	}
}

// CredentialKey is a key for what may be shared only between requests
// made with the same credentials: the SHA-256 of scope (e.g. a host, or an
// image and its transport) and of cred, so the credentials themselves are
// never kept.
func CredentialKey(cred auth.Credential, scope ...string) string {
	h := sha256.New()
	for _, part := range [][]string{scope, {cred.Username, cred.Password, cred.RefreshToken, cred.AccessToken}} {
		for _, s := range part {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// authCache returns the token cache for host and cred. Caches are never
// shared between credentials: oras-go keys its cache by host only, and a
// shared one would hand one pull secret's token to another's request.
func (f *Fetcher) authCache(host string, cred auth.Credential) auth.Cache {
	key := CredentialKey(cred, host)
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.caches[key]; ok {
		return c
	}
	if len(f.caches) >= maxAuthCaches {
		clear(f.caches)
	}
	c := auth.NewCache()
	f.caches[key] = c
	return c
}

// Resolve resolves req.Image to its manifest descriptor with one manifest
// HEAD request (for a digest reference it checks the manifest exists). It
// reads no blob.
func (f *Fetcher) Resolve(ctx context.Context, req Request) (Resolved, error) {
	ref, err := ParseReference(req.Image)
	if err != nil {
		return Resolved{}, err
	}
	desc, err := f.repository(ref, req).Resolve(ctx, ref.reference())
	if err != nil {
		return Resolved{}, classify(err, "resolve "+ref.String())
	}
	return Resolved{Repository: ref.RepositoryURL(), Digest: desc.Digest, MediaType: desc.MediaType, Size: desc.Size}, nil
}

// Repository returns the oras-go repository for req.Image with the
// Fetcher's transport, credential handling and plain-HTTP setting, and the
// parsed reference. It is for readers of other artifacts in the same
// repository (signatures, referrers); they must cap what they read.
func (f *Fetcher) Repository(req Request) (*remote.Repository, Reference, error) {
	ref, err := ParseReference(req.Image)
	if err != nil {
		return nil, Reference{}, err
	}
	return f.repository(ref, req), ref, nil
}
