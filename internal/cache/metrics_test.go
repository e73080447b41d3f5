package cache_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/wasmext/wasmext/internal/cache"
)

// TestMetricsScraped serves controller-runtime's registry, the one the
// operator's /metrics serves, over HTTP as Prometheus scrapes it, after
// some traffic, and finds every module server metric with its type and
// the series the traffic made.
func TestMetricsScraped(t *testing.T) {
	k, b := mod("\x00asm metrics", 700)
	store := cache.NewStore(1 << 20)
	ts := newServer(t, &cache.Server{Store: store, Key: key,
		Refill: func(context.Context, string) ([]byte, error) { return b, nil }})
	for _, target := range []string{path(k), path(k), "/nothing"} { // miss + refill, hit, 404
		do(t, ts, "GET", target)
	}
	s := cache.NewStore(700) // room for one: the second Put evicts
	mustPut(t, s, k, b)
	kx, x := mod("evicts", 700)
	mustPut(t, s, kx, x)

	scrape := httptest.NewServer(promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	defer scrape.Close()
	resp, err := http.Get(scrape.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		"# TYPE wasmext_module_server_requests_total counter",
		`wasmext_module_server_requests_total{code="200"} `,
		`wasmext_module_server_requests_total{code="404"} `,
		"# TYPE wasmext_module_server_sent_bytes_total counter",
		"# TYPE wasmext_module_cache_hits_total counter",
		"# TYPE wasmext_module_cache_misses_total counter",
		"# TYPE wasmext_module_cache_refills_total counter",
		`wasmext_module_cache_refills_total{result="ok"} `,
		"# TYPE wasmext_module_cache_evictions_total counter",
		"# TYPE wasmext_module_cache_corrupt_files_total counter",
		"# TYPE wasmext_module_cache_entries gauge",
		"# TYPE wasmext_module_cache_size_bytes gauge",
	} {
		if !strings.Contains(string(text), "\n"+want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, name := range []string{"wasmext_module_server_sent_bytes_total", "wasmext_module_cache_hits_total",
		"wasmext_module_cache_misses_total", "wasmext_module_cache_evictions_total", "wasmext_module_cache_size_bytes"} {
		if v := sample(string(text), name); v == "" || v == "0" {
			t.Errorf("%s = %q after traffic, want a positive value", name, v)
		}
	}
}

// sample returns the value of the unlabeled series name in a text
// exposition.
func sample(text, name string) string {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}
