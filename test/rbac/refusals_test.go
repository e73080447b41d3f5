package rbac

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// refusal is one request of the operator the apiserver answered 403.
type refusal struct {
	method, path string
	missing      []perm // what the message says was missing
	message      string
}

func (r refusal) String() string {
	return fmt.Sprintf("%s %s: %s", r.method, r.path, r.message)
}

// refusals records the operator's 403s, from its own transport: the
// evidence of which request needed a permission.
type refusals struct {
	mu   sync.Mutex
	seen []refusal
}

type recordingTransport struct {
	next http.RoundTripper
	rec  *refusals
}

func (r *refusals) wrap(rt http.RoundTripper) http.RoundTripper {
	return &recordingTransport{next: rt, rec: r}
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, nil
	}
	var status struct {
		Message string `json:"message"`
	}
	msg := string(body)
	if json.Unmarshal(body, &status) == nil && status.Message != "" {
		msg = status.Message
	}
	path := req.URL.Path
	if req.URL.Query().Get("watch") == "true" {
		path += "?watch=true"
	}
	t.rec.mu.Lock()
	t.rec.seen = append(t.rec.seen, refusal{method: req.Method, path: path, missing: parseRefusals(msg), message: msg})
	t.rec.mu.Unlock()
	return resp, nil
}

// all returns the refusals so far.
func (r *refusals) all() []refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]refusal(nil), r.seen...)
}

// of returns the first refusal of permission p, if any.
func (r *refusals) of(p perm) (refusal, bool) {
	for _, f := range r.all() {
		for _, m := range f.missing {
			if sameGrant(p, m) {
				return f, true
			}
		}
	}
	return refusal{}, false
}

// informer returns the first refused list or watch: an informer that may
// not list or watch never serves a cache that follows the cluster (client-go
// retries it forever, backing off to 30 s), so the manager is not ready.
func (r *refusals) informer() (refusal, bool) {
	for _, f := range r.all() {
		for _, m := range f.missing {
			if m.Verb == "list" || m.Verb == "watch" {
				return f, true
			}
		}
	}
	return refusal{}, false
}

// summary lists the distinct refused permissions, for the log.
func (r *refusals) summary() string {
	seen := map[string]bool{}
	var out []string
	for _, f := range r.all() {
		for _, m := range f.missing {
			if s := m.Verb + " " + groupResource(m.Group, m.Resource); !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return strings.Join(out, ", ")
}
