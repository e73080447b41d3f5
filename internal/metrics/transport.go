package metrics

import (
	"net/http"
	"strconv"
	"strings"
)

// Registry operations counted in wasmext_registry_requests_total.
const (
	OpManifest  = "manifest"
	OpBlob      = "blob"
	OpTags      = "tags"
	OpReferrers = "referrers"
	OpToken     = "token"
	OpPing      = "ping"
	OpOther     = "other"
)

// Transport wraps next (nil: http.DefaultTransport) so that every request
// is counted in wasmext_registry_requests_total by operation and result.
func Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &countingTransport{next: next}
}

type countingTransport struct{ next http.RoundTripper }

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	code := 0
	if err == nil {
		code = resp.StatusCode
	}
	registryRequests.WithLabelValues(Operation(req), Result(code)).Inc()
	return resp, err
}

// Operation names what a request to a registry does, from its method and
// URL (the distribution API's paths); a request outside the API that asks
// for a scope or service, or a POST, is a token request to an auth realm.
func Operation(req *http.Request) string {
	p := req.URL.Path
	if p == "/v2" || p == "/v2/" {
		return OpPing
	}
	if strings.HasPrefix(p, "/v2/") {
		switch {
		case strings.HasSuffix(p, "/tags/list"):
			return OpTags
		case strings.Contains(p, "/manifests/"):
			return OpManifest
		case strings.Contains(p, "/blobs/"):
			return OpBlob
		case strings.Contains(p, "/referrers/"):
			return OpReferrers
		}
	}
	q := req.URL.Query()
	if req.Method == http.MethodPost || q.Has("scope") || q.Has("service") {
		return OpToken
	}
	return OpOther
}

// Result is an answer's status class ("2xx" ... "5xx"), or "error" when
// code is 0 (no answer).
func Result(code int) string {
	if code < 100 || code > 599 {
		return ResultError
	}
	return strconv.Itoa(code/100) + "xx"
}
