package oci_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasmext/wasmext/internal/netguard"
	"github.com/wasmext/wasmext/internal/netguard/netguardtest"
	"github.com/wasmext/wasmext/internal/oci"
)

func denied(t *testing.T, cidrs string) *netguard.Policy {
	t.Helper()
	c, err := netguard.ParseCIDRs(cidrs)
	if err != nil {
		t.Fatal(err)
	}
	return netguard.New(netguard.Options{DeniedCIDRs: c})
}

// TestGuardRefusesRegistry: a reference whose host is on no list resolves
// to refused addresses; the registry is never connected to.
func TestGuardRefusesRegistry(t *testing.T) {
	sink := netguardtest.Listen(t, "127.0.0.1")
	req := oci.Request{Image: "localhost:" + sink.Port() + "/acme/filter:1", Insecure: true}

	f := oci.NewFetcher(oci.Options{Guard: denied(t, "127.0.0.0/8,::1")})
	_, err := f.Resolve(context.Background(), req)
	wantErr(t, err, netguard.ErrAddressRefused, `"localhost"`, "127.0.0.1")
	if oci.Unavailable(err) || errors.Is(err, oci.ErrUnavailable) {
		t.Errorf("a refused address is reported as an outage: %v", err)
	}
	if n := sink.Connections(t); n != 0 {
		t.Fatalf("registry saw %d connections, want 0", n)
	}

	// Not refused, the same reference does reach it.
	_, err = oci.NewFetcher(oci.Options{}).Resolve(context.Background(), req)
	if err == nil || errors.Is(err, netguard.ErrAddressRefused) {
		t.Fatalf("unguarded resolve: %v, want a transport error", err)
	}
	if n := sink.Connections(t); n < 1 {
		t.Fatal("unguarded resolve did not reach the listener")
	}
}

// TestGuardRefusesMetadataRegistry: the fixed set applies with no options.
func TestGuardRefusesMetadataRegistry(t *testing.T) {
	f := oci.NewFetcher(oci.Options{})
	for _, img := range []string{"169.254.169.254/acme/filter:1", "metadata.google.internal/acme/filter:1", "[fd00:ec2::254]:443/acme/filter:1"} {
		_, err := f.Resolve(context.Background(), oci.Request{Image: img})
		if !errors.Is(err, netguard.ErrAddressRefused) {
			t.Errorf("Resolve(%s) = %v, want ErrAddressRefused", img, err)
		}
	}
}

// hostAddress returns a non-loopback IPv4 address of this host, for a
// listener oras-go's own realm check does not refuse (it refuses loopback
// realms on another host name than the registry's).
func hostAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address to listen on")
	return ""
}

func challenge(realm string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`",service="registry",scope="repository:acme/filter:pull"`)
		w.WriteHeader(http.StatusUnauthorized)
	}
}

// TestGuardRefusesTokenRealm: the registry answers 401 with a Bearer
// challenge whose realm is a refused address; the realm is never
// connected to, and the registry itself was.
func TestGuardRefusesTokenRealm(t *testing.T) {
	ip := hostAddress(t)
	sink := netguardtest.Listen(t, ip)
	var challenged atomic.Int32
	realm := challenge("http://" + sink.Addr + "/token")
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		challenged.Add(1)
		realm(w, r)
	}))
	t.Cleanup(reg.Close)
	req := oci.Request{Image: strings.TrimPrefix(reg.URL, "http://") + "/acme/filter:1", Insecure: true}

	f := oci.NewFetcher(oci.Options{Guard: denied(t, ip)})
	_, err := f.Resolve(context.Background(), req)
	wantErr(t, err, netguard.ErrAddressRefused, ip)
	if oci.Unavailable(err) {
		t.Errorf("a refused realm is reported as an outage: %v", err)
	}
	if challenged.Load() == 0 {
		t.Fatal("the registry was not asked")
	}
	if n := sink.Connections(t); n != 0 {
		t.Fatalf("token realm saw %d connections, want 0", n)
	}

	// Without the policy, the realm is asked: the sink does count.
	_, _ = oci.NewFetcher(oci.Options{}).Resolve(context.Background(), req)
	if n := sink.Connections(t); n < 1 {
		t.Fatal("unguarded token fetch did not reach the realm")
	}
}

// TestGuardRefusesMetadataRealm: realms on metadata addresses and names
// are refused with no options (by name before resolution, or by oras-go's
// own realm check, which the Fetcher reports as the same refusal).
func TestGuardRefusesMetadataRealm(t *testing.T) {
	for _, realm := range []string{"http://metadata.google.internal/token", "http://169.254.169.254/token", "http://127.0.0.2/token"} {
		reg := httptest.NewServer(challenge(realm))
		req := oci.Request{Image: strings.TrimPrefix(reg.URL, "http://") + "/acme/filter:1", Insecure: true}
		_, err := oci.NewFetcher(oci.Options{}).Resolve(context.Background(), req)
		reg.Close()
		if !errors.Is(err, netguard.ErrAddressRefused) {
			t.Errorf("realm %s: %v, want ErrAddressRefused", realm, err)
		}
	}
}

// TestGuardRefusesBlobRedirect: the registry answers the blob GET with a
// 307 to a refused address (as registries redirect to storage); the
// redirect is never connected to.
func TestGuardRefusesBlobRedirect(t *testing.T) {
	reg, _ := setup(t, oci.Options{})
	d := push(t, reg, "acme/filter:1", oci.FormatWasmToOCI, module("redirected"))
	sink := netguardtest.Listen(t, "127.0.0.2")
	upstream := &url.URL{Scheme: "http", Host: reg.Host}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	var redirected atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			redirected.Add(1)
			http.Redirect(w, r, "http://"+sink.Addr+"/storage"+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	req := oci.Request{Image: strings.TrimPrefix(front.URL, "http://") + "/acme/filter:1", Insecure: true}

	f := oci.NewFetcher(oci.Options{Guard: denied(t, "127.0.0.2")})
	res, err := f.Resolve(context.Background(), req)
	if err != nil || res.Digest != d {
		t.Fatalf("Resolve = %v, %v; want %s", res.Digest, err, d)
	}
	_, err = f.Fetch(context.Background(), req, d)
	wantErr(t, err, netguard.ErrAddressRefused, "127.0.0.2")
	if redirected.Load() == 0 {
		t.Fatal("no blob GET was redirected")
	}
	if n := sink.Connections(t); n != 0 {
		t.Fatalf("redirect target saw %d connections, want 0", n)
	}
}
