package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/internal/verify/verifytest"
)

// keySecretName is the Secret, in every bench namespace, holding the public
// key that signed the modules.
const keySecretName = "bench-cosign-key"

// sigCounts are the registry requests for signature artifacts, told apart
// by what was asked for (ocitest counts by repository and kind only, and a
// module's signatures live in the module's repository).
type sigCounts struct {
	Referrers   int64 // GET /v2/<repo>/referrers/<digest>
	ManifestGET int64 // GET of a manifest whose digest is a bundle artifact's
	ManifestHD  int64 // HEAD of the same
	BundleGET   int64 // GET of a blob whose digest is a bundle layer's (or config)
	LegacyTag   int64 // GET/HEAD of a sha256-<hex>.sig tag, or the referrers tag sha256-<hex>
	All         int64 // every request through the proxy, signature or not
}

func (c sigCounts) sig() int64 {
	return c.Referrers + c.ManifestGET + c.ManifestHD + c.BundleGET + c.LegacyTag
}

func (c sigCounts) sub(b sigCounts) sigCounts {
	return sigCounts{Referrers: c.Referrers - b.Referrers, ManifestGET: c.ManifestGET - b.ManifestGET, ManifestHD: c.ManifestHD - b.ManifestHD,
		BundleGET: c.BundleGET - b.BundleGET, LegacyTag: c.LegacyTag - b.LegacyTag, All: c.All - b.All}
}

// sigProxy is a reverse proxy in front of the in-process registry that the
// operator talks to. It forwards everything unchanged and classifies each
// request by the digests of the signature artifacts the bench pushed.
type sigProxy struct {
	Host string
	srv  *httptest.Server

	mu        sync.Mutex
	manifests map[string]bool // bundle artifact manifests
	blobs     map[string]bool // their layers and configs
	counts    sigCounts
}

func startSigProxy(target string) (*sigProxy, error) {
	u, err := url.Parse("http://" + target)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &sigProxy{manifests: map[string]bool{}, blobs: map[string]bool{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p.count(req)
		rp.ServeHTTP(w, req)
	}))
	p.Host = strings.TrimPrefix(p.srv.URL, "http://")
	return p, nil
}

func (p *sigProxy) Close() { p.srv.Close() }

func (p *sigProxy) Counts() sigCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

func (p *sigProxy) count(req *http.Request) {
	kind, ref := "", ""
	if rest, ok := strings.CutPrefix(req.URL.Path, "/v2/"); ok {
		for _, k := range []string{"manifests", "blobs", "referrers"} {
			if i := strings.LastIndex(rest, "/"+k+"/"); i > 0 {
				kind, ref = k, rest[i+len(k)+2:]
				break
			}
		}
	}
	get, head := req.Method == http.MethodGet, req.Method == http.MethodHead
	p.mu.Lock()
	defer p.mu.Unlock()
	c := &p.counts
	c.All++
	switch {
	case kind == "referrers" && get:
		c.Referrers++
	case kind == "manifests" && (get || head) && strings.HasPrefix(ref, "sha256-"):
		c.LegacyTag++
	case kind == "manifests" && get && p.manifests[ref]:
		c.ManifestGET++
	case kind == "manifests" && head && p.manifests[ref]:
		c.ManifestHD++
	case kind == "blobs" && (get || head) && p.blobs[ref]:
		c.BundleGET++
	}
}

// learn records the referrers of subject in repo (read from the registry
// directly, not through the proxy) as signature artifacts; it returns how
// many it found.
func (p *sigProxy) learn(ctx context.Context, regHost, repo, subject string) (int, error) {
	var idx ocispec.Index
	if err := getJSON(ctx, fmt.Sprintf("http://%s/v2/%s/referrers/%s", regHost, repo, subject), ocispec.MediaTypeImageIndex, &idx); err != nil {
		return 0, err
	}
	for _, d := range idx.Manifests {
		var m ocispec.Manifest
		if err := getJSON(ctx, fmt.Sprintf("http://%s/v2/%s/manifests/%s", regHost, repo, d.Digest), ocispec.MediaTypeImageManifest, &m); err != nil {
			return 0, err
		}
		p.mu.Lock()
		p.manifests[d.Digest.String()] = true
		p.blobs[m.Config.Digest.String()] = true
		for _, l := range m.Layers {
			p.blobs[l.Digest.String()] = true
		}
		p.mu.Unlock()
	}
	return len(idx.Manifests), nil
}

func getJSON(ctx context.Context, u, accept string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// signModules signs every module once with one new key (a sigstore bundle
// attached as an OCI referrer) and teaches the proxy the signature
// artifacts. It returns the PEM public key.
func signModules(ctx context.Context, regHost string, p *sigProxy, mods []module) ([]byte, error) {
	k, pub, err := verifytest.NewKey()
	if err != nil {
		return nil, err
	}
	for _, m := range mods {
		if err := verifytest.SignKeyBundle(ctx, regHost, m.repo, m.digest, k); err != nil {
			return nil, fmt.Errorf("signing %s: %w", m.repo, err)
		}
		n, err := p.learn(ctx, regHost, m.repo, m.digest.String())
		if err != nil {
			return nil, fmt.Errorf("listing the signature of %s: %w", m.repo, err)
		}
		if n != 1 {
			return nil, fmt.Errorf("%s: %d referrers after signing, want 1", m.repo, n)
		}
	}
	return pub, nil
}

func createKeySecret(ctx context.Context, c client.Client, ns string, pub []byte) error {
	return c.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: keySecretName, Namespace: ns},
		Data:       map[string][]byte{"cosign.pub": pub},
	})
}
