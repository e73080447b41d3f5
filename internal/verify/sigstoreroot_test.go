package verify_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/wasmext/wasmext/internal/verify"
)

// recorder refuses every request and records its URL.
type recorder struct {
	mu     sync.Mutex
	urls   []string
	cancel context.CancelFunc
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.urls = append(r.urls, req.URL.String())
	r.cancel()
	return nil, errors.New("refused by the test")
}

// TestPublicGoodRootUsesHTTPClient: the TUF metadata is fetched with the
// given client (the operator's guarded one), not go-tuf's default.
func TestPublicGoodRootUsesHTTPClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec := &recorder{cancel: cancel}
	p := &verify.PublicGoodRoot{HTTPClient: &http.Client{Transport: rec}}
	p.Run(ctx, logr.Discard(), time.Hour) // returns once ctx is done
	if p.Get() != nil {
		t.Fatal("a trusted root was stored although every fetch failed")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.urls) == 0 {
		t.Fatal("the TUF client made no request through the given HTTP client")
	}
	t.Log(rec.urls)
}
