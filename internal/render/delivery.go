package render

import (
	"fmt"
	"net/url"

	istioext "istio.io/api/extensions/v1alpha1"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// proxyFetch is how a WasmPlugin or TrafficExtension tells the proxies to
// obtain the module: its url, sha256, imagePullPolicy and imagePullSecret
// fields, which the two kinds share.
type proxyFetch struct {
	url        string
	sha256     string
	pullPolicy istioext.PullPolicy
	pullSecret string
}

// moduleFetch is the proxyFetch for m.
//
// Delivery Cache (m.CacheURL set): the module server's URL and the sha256 of
// the .wasm, which istio-agent checks after its HTTP GET. No pull secret:
// the module server needs no credentials, and the registry's must not reach
// the proxies. No pull policy: wasm.proto makes it "only relevant when
// referencing Wasm module without any digest", and sha256 is one;
// istio-agent keys its cache by the sha256 whatever the policy.
//
// Delivery Registry: the digest-pinned oci:// reference, the pull policy
// and the extension's pull secret, and no sha256 (for an oci:// URL Istio
// compares sha256 with the manifest digest, which the URL already pins).
func moduleFetch(m Module, spec *v1alpha1.WasmExtensionSpec) proxyFetch {
	if m.CacheURL != "" {
		return proxyFetch{url: m.CacheURL, sha256: m.SHA256}
	}
	return proxyFetch{
		url:        m.URL(),
		pullPolicy: pullPolicy(spec.ImagePullPolicy),
		pullSecret: pullSecret(spec.Module),
	}
}

// checkCacheDelivery refuses a Cache delivery that proxies could not use:
// a CacheURL that is not an http(s) URL with a host, or a SHA256 (required
// with CacheURL) that is not 64 lowercase hex digits, the form Istio's CRDs
// accept.
func checkCacheDelivery(m Module) error {
	if m.CacheURL == "" && m.SHA256 == "" {
		return nil
	}
	if m.CacheURL != "" {
		if err := checkHTTPURL(m.CacheURL); err != nil {
			return fmt.Errorf("%w: module cache URL: %w", ErrInvalidSpec, err)
		}
		if m.SHA256 == "" {
			return fmt.Errorf("%w: module cache URL %q without the SHA-256 of the .wasm, which proxies check the bytes against", ErrInvalidSpec, m.CacheURL)
		}
	}
	if !sha256Hex.MatchString(m.SHA256) {
		return fmt.Errorf("%w: module SHA-256 %q is not 64 lowercase hex digits", ErrInvalidSpec, m.SHA256)
	}
	return nil
}

// checkHTTPURL refuses what is not an absolute http:// or https:// URL with
// a host.
func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("%q is not an http(s) URL with a host", raw)
	}
	return nil
}
