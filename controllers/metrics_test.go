package controllers

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/oci/ocitest"
	"github.com/wasmext/wasmext/internal/verify/verifytest"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// TestMetricsScraped scrapes controller-runtime's registry (what the
// operator's /metrics serves) before and after a signed extension becomes
// Ready, and finds each wasmext family with its labels grown by the
// reconcile: registry requests by operation and result, pull, verify and
// dry-run durations, reconciles by Reason and extensions by condition.
func TestMetricsScraped(t *testing.T) {
	reg := ocitest.NewRegistry(t)
	ns := namespace(t)
	key, pub := newKey(t)
	keySecret(t, ns, "cosign-pub", pub)
	d := pushT(t, reg, "acme/metered:v1", oci.FormatCNCF, wasmtest.Variant(7301))
	if err := verifytest.SignKeyBundle(context.Background(), reg.Host, "acme/metered", digest.Digest(d), key); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(crmetrics.Registry, promhttp.HandlerOpts{}))
	defer srv.Close()
	before := scrape(t, srv.URL)
	create(t, keyVerified(ns, "metered", reg.Ref("acme/metered:v1"), "cosign-pub"))
	waitReady(t, ns, "metered")
	after := scrape(t, srv.URL)
	for _, series := range []string{
		`wasmext_registry_requests_total{operation="manifest",result="2xx"}`,
		`wasmext_registry_requests_total{operation="blob",result="2xx"}`,
		`wasmext_registry_requests_total{operation="referrers",result="2xx"}`,
		`wasmext_module_fetch_duration_seconds_count{result="ok"}`,
		`wasmext_module_fetch_duration_seconds_sum{result="ok"}`,
		`wasmext_module_verify_duration_seconds_count{result="ok"}`,
		`wasmext_module_dry_run_duration_seconds_count{result="ok"}`,
		`wasmext_reconciles_total{reason="Succeeded"}`,
	} {
		if after[series] <= before[series] {
			t.Errorf("%s: %v before, %v after the reconcile; want it grown", series, before[series], after[series])
		}
	}
	for _, series := range []string{
		`wasmext_extensions{reason="Succeeded",status="True",type="Ready"}`,
		`wasmext_extensions{reason="Succeeded",status="True",type="ModuleVerified"}`,
	} {
		if after[series] < 1 {
			t.Errorf("%s = %v, want at least this extension", series, after[series])
		}
	}
}

// scrape GETs url and returns each sample's value by series
// (name{labels}).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
