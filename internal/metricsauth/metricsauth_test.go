package metricsauth

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// apiServer is a fake API server's answers: tokens to users, and who may
// get which path. The real one is in test/rbac (envtest).
type apiServer struct {
	users          map[string]authnv1.UserInfo
	allowed        map[string]string // user -> path
	reviews, sars  atomic.Int64
	failNext       atomic.Int64 // answer 503 this many times
	lastSAR        authzv1.SubjectAccessReviewSpec
	reviewedTokens []string
}

func (a *apiServer) guard() *Guard {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "tokenreviews", func(act k8stesting.Action) (bool, runtime.Object, error) {
		a.reviews.Add(1)
		if a.failNext.Add(-1) >= 0 {
			return true, nil, apierrors.NewServiceUnavailable("restarting")
		}
		tr := act.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview).DeepCopy()
		a.reviewedTokens = append(a.reviewedTokens, tr.Spec.Token)
		u, ok := a.users[tr.Spec.Token]
		tr.Status = authnv1.TokenReviewStatus{Authenticated: ok, User: u}
		if tr.Spec.Token == "forged" {
			tr.Status.Error = "invalid bearer token"
		}
		return true, tr, nil
	})
	cs.PrependReactor("create", "subjectaccessreviews", func(act k8stesting.Action) (bool, runtime.Object, error) {
		a.sars.Add(1)
		sar := act.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview).DeepCopy()
		a.lastSAR = sar.Spec
		na := sar.Spec.NonResourceAttributes
		sar.Status.Allowed = na != nil && na.Verb == "get" && a.allowed[sar.Spec.User] == na.Path
		return true, sar, nil
	})
	g := New(cs.AuthenticationV1().TokenReviews(), cs.AuthorizationV1().SubjectAccessReviews())
	g.backoff = wait.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3}
	return g
}

func serve(t *testing.T, h http.Handler, method, auth string) int {
	t.Helper()
	req := httptest.NewRequest(method, "/metrics", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestGuard(t *testing.T) {
	a := &apiServer{
		users:   map[string]authnv1.UserInfo{"good": {Username: "scraper", UID: "u1", Groups: []string{"g1"}}, "other": {Username: "nobody"}},
		allowed: map[string]string{"scraper": "/metrics"},
	}
	h := a.guard().Handler(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, tc := range []struct {
		name, method, auth string
		want               int
	}{
		{"no token", http.MethodGet, "", http.StatusUnauthorized},
		{"not a bearer token", http.MethodGet, "Basic Z29vZA==", http.StatusUnauthorized},
		{"a rejected token", http.MethodGet, "Bearer bad", http.StatusUnauthorized},
		{"a token rejected with an error", http.MethodGet, "Bearer forged", http.StatusUnauthorized},
		{"an allowed user", http.MethodGet, "Bearer good", http.StatusTeapot},
		{"the scheme in any case", http.MethodGet, "bearer good", http.StatusTeapot},
		{"another verb", http.MethodPost, "Bearer good", http.StatusForbidden},
		{"a user without the grant", http.MethodGet, "Bearer other", http.StatusForbidden},
	} {
		if got := serve(t, h, tc.method, tc.auth); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if s := a.lastSAR; s.User != "nobody" || s.NonResourceAttributes.Path != "/metrics" {
		t.Errorf("last SubjectAccessReview %+v: want user nobody, path /metrics", s)
	}
	// Four tokens reviewed once each (no token is never sent), three
	// decisions: (scraper, get), (scraper, post), (nobody, get).
	if r, s := a.reviews.Load(), a.sars.Load(); r != 4 || s != 3 {
		t.Errorf("%d TokenReviews, %d SubjectAccessReviews: want 4 and 3 (answers kept)", r, s)
	}
	for range 5 {
		serve(t, h, http.MethodGet, "Bearer good")
		serve(t, h, http.MethodGet, "Bearer bad")
	}
	if r, s := a.reviews.Load(), a.sars.Load(); r != 4 || s != 3 {
		t.Errorf("after 10 more scrapes: %d TokenReviews, %d SubjectAccessReviews: want still 4 and 3", r, s)
	}
	// A rejection with an error is not kept.
	serve(t, h, http.MethodGet, "Bearer forged")
	if r := a.reviews.Load(); r != 5 {
		t.Errorf("forged token again: %d TokenReviews, want 5 (not kept)", r)
	}
}

func TestGuardGroupsAndExtra(t *testing.T) {
	a := &apiServer{users: map[string]authnv1.UserInfo{"t": {Username: "u", Groups: []string{"a", "b"},
		Extra: map[string]authnv1.ExtraValue{"scopes": {"x"}}}}}
	h := a.guard().Handler(logr.Discard(), http.NotFoundHandler())
	serve(t, h, http.MethodGet, "Bearer t")
	s := a.lastSAR
	if len(s.Groups) != 2 || s.Groups[1] != "b" || len(s.Extra["scopes"]) != 1 || s.NonResourceAttributes.Verb != "get" {
		t.Errorf("SubjectAccessReview %+v: want the user's groups and extra, verb get", s)
	}
}

func TestGuardRetriesAndKeepsNoError(t *testing.T) {
	a := &apiServer{users: map[string]authnv1.UserInfo{"good": {Username: "scraper"}}, allowed: map[string]string{"scraper": "/metrics"}}
	g := a.guard()
	h := g.Handler(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	a.failNext.Store(2) // two 503s, then an answer: within the 3 steps
	if got := serve(t, h, http.MethodGet, "Bearer good"); got != http.StatusTeapot || a.reviews.Load() != 3 {
		t.Fatalf("after two 503s: %d with %d TokenReviews, want 418 with 3", got, a.reviews.Load())
	}
	a.failNext.Store(10)
	if got := serve(t, h, http.MethodGet, "Bearer new"); got != http.StatusInternalServerError {
		t.Fatalf("API server away: %d, want 500", got)
	}
	a.failNext.Store(0)
	a.users["new"] = authnv1.UserInfo{Username: "scraper"}
	if got := serve(t, h, http.MethodGet, "Bearer new"); got != http.StatusTeapot {
		t.Fatalf("API server back: %d, want 418 (an error is not kept)", got)
	}
	for _, tok := range a.reviewedTokens {
		if tok != "good" && tok != "new" {
			t.Fatalf("reviewed token %q", tok)
		}
	}
	if _, ok := g.users.Get("new"); ok {
		t.Fatal("the cache is keyed by the raw token; want a salted hash")
	}
}
