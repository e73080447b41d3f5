package crash

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// metricsReader is the ServiceAccount the test scrapes /metrics as, with
// what a scraper is granted: get on the non-resource URL /metrics.
const metricsReader = "crash-metrics-reader"

// metricsToken creates the metricsReader ServiceAccount, its ClusterRole
// and binding, and returns a token for it.
func (h *harness) metricsToken(ctx context.Context) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: metricsReader, Namespace: leaseNamespace}}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: metricsReader},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: metricsReader},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReader},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: metricsReader, Namespace: leaseNamespace}},
	}
	for _, o := range []client.Object{sa, role, binding} {
		if err := h.c.Create(ctx, o); err != nil {
			return "", err
		}
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))}}
	if err := h.c.SubResource("token").Create(ctx, sa, tr); err != nil {
		return "", fmt.Errorf("requesting a token for %s: %w", metricsReader, err)
	}
	return tr.Status.Token, nil
}

// scrape GETs /metrics over HTTPS (the operator's self-signed certificate)
// and returns the reconciles by result. It fails unless a request without
// a token is refused with 401 and one with token is served.
func (h *harness) scrape(ctx context.Context, token string) (map[string]float64, error) {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the operator's certificate is self-signed
	}}
	url := "https://" + h.metricsAddr + "/metrics"
	var anonymous int
	var body string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		code, _, err := get(ctx, hc, url, "")
		if err != nil {
			return false, nil //nolint:nilerr // not serving yet: poll again
		}
		anonymous = code
		code, body, err = get(ctx, hc, url, token)
		return err == nil && code == http.StatusOK, nil
	})
	if err != nil {
		return nil, fmt.Errorf("GET %s with the %s token: %w", url, metricsReader, err)
	}
	if anonymous != http.StatusUnauthorized {
		return nil, fmt.Errorf("GET %s without a token: status %d, want %d", url, anonymous, http.StatusUnauthorized)
	}
	return reconcileTotals(body), nil
}

func get(ctx context.Context, hc *http.Client, url, token string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// reconcileTotals reads controller_runtime_reconcile_total by its result
// label from a Prometheus text exposition.
func reconcileTotals(body string) map[string]float64 {
	out := map[string]float64{}
	s := bufio.NewScanner(strings.NewReader(body))
	for s.Scan() {
		line := s.Text()
		labels, ok := strings.CutPrefix(line, "controller_runtime_reconcile_total{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(labels, "} ")
		_, result, found := strings.Cut(labels, `result="`)
		if !ok || !found {
			continue
		}
		result, _, _ = strings.Cut(result, `"`)
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[result] += v
		}
	}
	return out
}

func TestReconcileTotals(t *testing.T) {
	body := `# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
controller_runtime_reconcile_total{controller="wasmextension",result="error"} 3
controller_runtime_reconcile_total{controller="wasmextension",result="success"} 250
controller_runtime_reconcile_total{controller="other",result="success"} 1
controller_runtime_reconcile_errors_total{controller="wasmextension"} 3
`
	got := reconcileTotals(body)
	if len(got) != 2 || got["error"] != 3 || got["success"] != 251 {
		t.Errorf("reconcileTotals = %v, want error 3, success 251", got)
	}
}
