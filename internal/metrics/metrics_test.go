package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/wasmext/wasmext/api/v1alpha1"
)

func TestOperation(t *testing.T) {
	for _, tc := range []struct{ method, url, want string }{
		{"GET", "https://r.example/v2/", OpPing},
		{"HEAD", "https://r.example/v2/acme/filter/manifests/v1", OpManifest},
		{"GET", "https://r.example/v2/acme/team/filter/manifests/sha256:ab", OpManifest},
		{"GET", "https://r.example/v2/acme/filter/blobs/sha256:ab", OpBlob},
		{"GET", "https://r.example/v2/acme/filter/tags/list?n=100", OpTags},
		{"GET", "https://r.example/v2/acme/filter/referrers/sha256:ab", OpReferrers},
		{"GET", "https://auth.example/token?service=r.example&scope=repository:acme/filter:pull", OpToken},
		{"GET", "https://r.example/v2/auth?service=r.example&scope=repository:acme/filter:pull", OpToken},
		{"POST", "https://auth.example/oauth2/token", OpToken},
		{"GET", "https://r.example/other", OpOther},
	} {
		req := httptest.NewRequest(tc.method, tc.url, nil)
		if got := Operation(req); got != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.method, tc.url, got, tc.want)
		}
	}
}

func TestResult(t *testing.T) {
	for code, want := range map[int]string{0: "error", 200: "2xx", 307: "3xx", 401: "4xx", 404: "4xx", 429: "4xx", 503: "5xx"} {
		if got := Result(code); got != want {
			t.Errorf("Result(%d) = %s, want %s", code, got, want)
		}
	}
}

// TestTransportCounts: each request through Transport adds one to its
// operation and result, including requests that got no answer.
func TestTransportCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/") {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	defer srv.Close()
	c := &http.Client{Transport: Transport(nil)}
	manifest2xx := value(t, registryRequests.WithLabelValues(OpManifest, "2xx"))
	blob5xx := value(t, registryRequests.WithLabelValues(OpBlob, "5xx"))
	pingErr := value(t, registryRequests.WithLabelValues(OpPing, ResultError))
	for _, u := range []string{srv.URL + "/v2/a/manifests/v1", srv.URL + "/v2/a/blobs/sha256:1", gone.URL + "/v2/"} {
		resp, err := c.Get(u)
		if err == nil {
			_ = resp.Body.Close()
		}
	}
	for name, d := range map[string]float64{
		"manifest 2xx": value(t, registryRequests.WithLabelValues(OpManifest, "2xx")) - manifest2xx,
		"blob 5xx":     value(t, registryRequests.WithLabelValues(OpBlob, "5xx")) - blob5xx,
		"ping error":   value(t, registryRequests.WithLabelValues(OpPing, ResultError)) - pingErr,
	} {
		if d != 1 {
			t.Errorf("%s counted %v times, want 1", name, d)
		}
	}
}

// value reads a counter.
func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestCountConditions(t *testing.T) {
	ext := func(conds ...metav1.Condition) v1alpha1.WasmExtension {
		return v1alpha1.WasmExtension{Status: v1alpha1.WasmExtensionStatus{Conditions: conds}}
	}
	ready := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded"}
	outage := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "RegistryUnavailable"}
	fetchFailed := metav1.Condition{Type: "ModuleFetched", Status: metav1.ConditionFalse, Reason: "RegistryUnavailable"}
	got := CountConditions([]v1alpha1.WasmExtension{ext(ready), ext(ready), ext(outage, fetchFailed), ext()})
	want := []ConditionCount{
		{"ModuleFetched", "False", "RegistryUnavailable", 1},
		{"Ready", "True", "RegistryUnavailable", 1},
		{"Ready", "True", "Succeeded", 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestScrape serves controller-runtime's registry as the operator's
// /metrics does, after observations and with extensions in a (fake)
// cache, and finds every family with its labels and a nonzero value.
func TestScrape(t *testing.T) {
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	e := &v1alpha1.WasmExtension{ObjectMeta: metav1.ObjectMeta{Namespace: "n", Name: "a"}, Status: v1alpha1.WasmExtensionStatus{
		Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded"}}}}
	RegisterExtensions(fake.NewClientBuilder().WithScheme(s).WithObjects(e).WithStatusSubresource(e).Build())
	ObserveFetch(20*time.Millisecond, nil)
	ObserveVerify(30*time.Millisecond, errors.New("x"))
	ObserveDryRun(40*time.Millisecond, nil)
	CountReconcile("Succeeded")
	registryRequests.WithLabelValues(OpToken, "2xx").Inc()

	srv := httptest.NewServer(promhttp.HandlerFor(crmetrics.Registry, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	text := string(b)
	for _, want := range []string{
		"# TYPE wasmext_registry_requests_total counter",
		`wasmext_registry_requests_total{operation="token",result="2xx"} `,
		"# TYPE wasmext_module_fetch_duration_seconds histogram",
		`wasmext_module_fetch_duration_seconds_count{result="ok"} `,
		`wasmext_module_verify_duration_seconds_count{result="error"} `,
		`wasmext_module_dry_run_duration_seconds_count{result="ok"} `,
		`wasmext_reconciles_total{reason="Succeeded"} `,
		"# TYPE wasmext_extensions gauge",
		`wasmext_extensions{reason="Succeeded",status="True",type="Ready"} 1`,
	} {
		i := strings.Index(text, "\n"+want)
		if i < 0 {
			t.Errorf("/metrics lacks %q", want)
			continue
		}
		if line := strings.SplitN(text[i+1:], "\n", 2)[0]; strings.HasSuffix(line, " 0") {
			t.Errorf("%s: zero", line)
		}
	}
}
