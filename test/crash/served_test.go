package crash

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

// checkServed GETs every module URL the extensions' status names, as a
// proxy would, from the module server of the running start, and returns a
// problem for each URL that does not answer 200 with bytes of the sha256
// named next to it. A URL is polled for a few seconds: the server serves a
// module once its informer has seen an extension render it.
func (h *harness) checkServed(ctx context.Context, exts []v1alpha1.WasmExtension) []string {
	shas := map[string]string{} // URL → sha256
	for i := range exts {
		if m := exts[i].Status.Module; m != nil {
			shas[m.URL] = m.SHA256
		}
	}
	urls := make([]string, 0, len(shas))
	for u := range shas {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	hc := &http.Client{Timeout: 5 * time.Second}
	var problems []string
	for _, u := range urls {
		var last string
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			last = fetch(ctx, hc, u, shas[u])
			return last == "", nil
		})
		if err != nil {
			problems = append(problems, fmt.Sprintf("GET %s: %s", u, last))
		}
	}
	return problems
}

// fetch GETs url and returns what is wrong with the answer, or "".
func fetch(ctx context.Context, hc *http.Client, url, sha string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	d := sha256.New()
	n, err := io.Copy(d, resp.Body)
	switch got := hex.EncodeToString(d.Sum(nil)); {
	case err != nil:
		return err.Error()
	case resp.StatusCode != http.StatusOK:
		return fmt.Sprintf("HTTP %d", resp.StatusCode)
	case got != sha:
		return fmt.Sprintf("%d bytes with sha256 %s, the status says %s", n, got, sha)
	}
	return ""
}

func TestFetch(t *testing.T) {
	body := []byte("module bytes")
	sum := sha256.Sum256(body)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/m" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	ctx, hc, sha := context.Background(), srv.Client(), hex.EncodeToString(sum[:])
	if p := fetch(ctx, hc, srv.URL+"/m", sha); p != "" {
		t.Errorf("fetch of the right bytes = %q, want no problem", p)
	}
	if p := fetch(ctx, hc, srv.URL+"/m", "00"); !strings.Contains(p, "12 bytes with sha256 "+sha+", the status says 00") {
		t.Errorf("fetch with another sha256 = %q", p)
	}
	if p := fetch(ctx, hc, srv.URL+"/gone", sha); p != "HTTP 404" {
		t.Errorf("fetch of a missing module = %q, want HTTP 404", p)
	}
}
