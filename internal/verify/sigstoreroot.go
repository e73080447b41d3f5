package verify

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
)

// PublicGoodRoot holds the public-good Sigstore trusted root, fetched
// through TUF (sigstore-go's embedded root of trust) in the background.
// Get returns nil until a fetch has succeeded; keyless verification then
// needs a trustedRootSecretRef.
type PublicGoodRoot struct {
	// HTTPClient fetches the TUF metadata (e.g. one whose transport refuses
	// link-local and metadata addresses, netguard); nil is go-tuf's default
	// client.
	HTTPClient *http.Client

	tm atomic.Pointer[root.LiveTrustedRoot]
}

// Get returns the trusted root, or nil while it is not available.
func (p *PublicGoodRoot) Get() root.TrustedMaterial {
	if tm := p.tm.Load(); tm != nil {
		return tm
	}
	return nil
}

// Run fetches the root, retrying every retry until it succeeds or ctx
// ends. The fetched root refreshes itself (sigstore-go's LiveTrustedRoot).
// It keeps the TUF metadata in memory only (read-only root file systems).
func (p *PublicGoodRoot) Run(ctx context.Context, log logr.Logger, retry time.Duration) {
	for {
		opts := tuf.DefaultOptions().WithDisableLocalCache()
		if p.HTTPClient != nil {
			f := fetcher.NewDefaultFetcher()
			f.SetHTTPUserAgent("wasmext")
			f.SetHTTPClient(p.HTTPClient)
			opts = opts.WithFetcher(f)
		}
		tm, err := root.NewLiveTrustedRoot(opts)
		if err == nil {
			p.tm.Store(tm)
			log.Info("Fetched the public-good Sigstore trusted root through TUF")
			return
		}
		log.Info("Public-good Sigstore trusted root not available; keyless verification needs trustedRootSecretRef until it is", "error", err.Error(), "retryIn", retry.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}
