package rbac

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wasmext/wasmext/controllers"
	"github.com/wasmext/wasmext/internal/cache"
)

// refillScenario starts a second module server with an empty store, as a
// replica or a restarted pod has: its first request for the signed module
// misses, and the reconciler's RefillModule obtains it again.
func refillScenario(ctx context.Context, r *run) error {
	ext, err := r.waitReady(ctx, "signed")
	if err != nil {
		return err
	}
	sha := ext.Status.Module.SHA256
	fresh := &cache.Server{Store: cache.NewStore(64 << 20), Key: r.h.moduleKey, Grace: cache.DefaultGrace}
	if err := controllers.ServeRenderedModules(ctx, r.op.mgr.GetCache(), fresh); err != nil {
		return err
	}
	fresh.Refill = r.op.r.RefillModule
	srv := httptest.NewServer(fresh)
	defer srv.Close()
	url := fresh.URL(srv.URL, sha)
	return poll(ctx, "refilled module served at "+url, func(ctx context.Context) error {
		code, body, err := get(ctx, http.DefaultClient, url, "")
		if err != nil || code != http.StatusOK || hexSHA(body) != sha {
			return pending("GET = %d (%v)", code, err)
		}
		return nil
	})
}

// leaderScenario: this manager's LeaderElection Event names its identity,
// the Lease names the same holder, and the holder renewed it since.
func leaderScenario(ctx context.Context, r *run) error {
	var id string
	err := poll(ctx, "LeaderElection Event in "+operatorNS, func(ctx context.Context) error {
		var list corev1.EventList
		if err := r.h.c.List(ctx, &list, client.InNamespace(operatorNS)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == "LeaderElection" && e.InvolvedObject.Kind == "Lease" && e.InvolvedObject.Name == leaseName {
				id, _ = strings.CutSuffix(e.Message, " became leader")
				return nil
			}
		}
		return pending("no LeaderElection Event among %d", len(list.Items))
	})
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	if !strings.HasPrefix(id, host+"_") {
		return fmt.Errorf("leader %q is not an identity of this process (%s_<uuid>)", id, host)
	}
	return poll(ctx, "Lease held by "+id+" and renewed", func(ctx context.Context) error {
		var l coordinationv1.Lease
		if err := r.h.c.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: leaseName}, &l); err != nil {
			return pending("%v", err)
		}
		s := l.Spec
		if s.HolderIdentity == nil || *s.HolderIdentity != id {
			return fmt.Errorf("Lease held by %v, want %s", s.HolderIdentity, id)
		}
		if s.AcquireTime == nil || s.RenewTime == nil || !s.RenewTime.After(s.AcquireTime.Time) {
			return pending("not renewed yet (acquired %v, renewed %v)", s.AcquireTime, s.RenewTime)
		}
		return nil
	})
}

// metricsScenario scrapes /metrics with the scraper's token (TokenReview
// and SubjectAccessReview by the real API server), then without a token, with
// a forged one and with the token of a ServiceAccount without the grant.
func metricsScenario(ctx context.Context, r *run) error {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the operator's self-signed certificate
	if err := scrapeAllowed(ctx, hc, r); err != nil {
		return err
	}
	for _, tc := range []struct {
		who, token string
		want       int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a forged token", r.h.scraper[:len(r.h.scraper)-4] + "AAAA", http.StatusUnauthorized},
		{"a ServiceAccount without the grant", r.h.stranger, http.StatusForbidden},
	} {
		code, body, err := get(ctx, hc, r.op.metrics, tc.token)
		if err != nil || code != tc.want {
			return fmt.Errorf("GET /metrics with %s = %d (%v): %s, want %d", tc.who, code, err, firstLine(string(body)), tc.want)
		}
	}
	return nil
}

// scrapeAllowed waits for /metrics to answer the scraper.
func scrapeAllowed(ctx context.Context, hc *http.Client, r *run) error {
	return poll(ctx, "GET "+r.op.metrics, func(ctx context.Context) error {
		code, body, err := get(ctx, hc, r.op.metrics, r.h.scraper)
		switch {
		case err != nil:
			return pending("%v", err) // not listening yet
		case code != http.StatusOK: // the server's filter answered: it will not change
			return fmt.Errorf("GET /metrics with an authorized token = %d: %s", code, firstLine(string(body)))
		case !strings.Contains(string(body), "controller_runtime_"):
			return fmt.Errorf("GET /metrics = 200 without controller-runtime's metrics")
		}
		return nil
	})
}

func get(ctx context.Context, hc *http.Client, url, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
