package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"
	"testing"

	"github.com/wasmext/wasmext/internal/netguard"
	"github.com/wasmext/wasmext/internal/netguard/netguardtest"
)

// loopbackDenied refuses every loopback address: the only addresses a
// test can listen on stand in for the link-local ones it cannot bind.
func loopbackDenied(t *testing.T) *netguard.Policy {
	return netguard.New(netguard.Options{DeniedCIDRs: mustCIDRs(t, "127.0.0.0/8,::1")})
}

// TestDialRefusesAfterResolution dials a name that is on no list and
// resolves to refused addresses: the control hook refuses each resolved
// address and nothing reaches the listener.
func TestDialRefusesAfterResolution(t *testing.T) {
	sink := netguardtest.Listen(t, "127.0.0.1")
	dial := loopbackDenied(t).DialContext(nil)
	c, err := dial(context.Background(), "tcp", net.JoinHostPort("localhost", sink.Port()))
	if err == nil {
		_ = c.Close()
		t.Fatal("dial to localhost was not refused")
	}
	var re *netguard.RefusedError
	if !errors.As(err, &re) || re.Host != "localhost" || !re.IP.IsLoopback() {
		t.Fatalf("err = %v, want a refusal naming localhost and its loopback IP", err)
	}
	if n := sink.Connections(t); n != 0 {
		t.Fatalf("listener saw %d connections, want 0", n)
	}

	// The same dial without the policy connects: the sink does count.
	c, err = (&net.Dialer{}).DialContext(context.Background(), "tcp", net.JoinHostPort("localhost", sink.Port()))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if n := sink.Connections(t); n != 1 {
		t.Fatalf("unguarded dial: listener saw %d connections, want 1", n)
	}
}

func TestDialRefusesLiteralsAndNames(t *testing.T) {
	dial := netguard.Default().DialContext(nil)
	for _, addr := range []string{
		"169.254.169.254:80", "[fe80::1]:80", "[fd00:ec2::254]:80", "[::ffff:169.254.169.254]:80",
		"100.100.100.200:80", "metadata.google.internal:80", "metadata:80",
	} {
		c, err := dial(context.Background(), "tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		if !errors.Is(err, netguard.ErrAddressRefused) {
			t.Errorf("dial %s: %v, want ErrAddressRefused", addr, err)
		}
	}
}

// TestDialKeepsDialerHooks: the dialer's own Control still runs, after the
// check, for allowed addresses only.
func TestDialKeepsDialerHooks(t *testing.T) {
	sink := netguardtest.Listen(t, "127.0.0.1")
	var seen []string
	d := &net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
		seen = append(seen, address)
		return nil
	}}
	c, err := netguard.Default().DialContext(d)(context.Background(), "tcp", sink.Addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	_, err = loopbackDenied(t).DialContext(d)(context.Background(), "tcp", "localhost:"+sink.Port())
	if !errors.Is(err, netguard.ErrAddressRefused) {
		t.Fatalf("err = %v, want ErrAddressRefused", err)
	}
	if len(seen) != 1 || seen[0] != sink.Addr {
		t.Fatalf("dialer's Control saw %v, want only %s", seen, sink.Addr)
	}
	if n := sink.Connections(t); n != 1 {
		t.Fatalf("listener saw %d connections, want 1", n)
	}
}

// TestTransportRefusesRedirect: a server on an allowed address redirects
// to a refused one; the redirect is never connected to.
func TestTransportRefusesRedirect(t *testing.T) {
	sink := netguardtest.Listen(t, "127.0.0.2")
	p := netguard.New(netguard.Options{DeniedCIDRs: mustCIDRs(t, "127.0.0.2")})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+sink.Addr+"/next", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	hc := &http.Client{Transport: p.Transport()}
	resp, err := hc.Get(srv.URL)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatal("redirect to a refused address was followed")
	}
	if !errors.Is(err, netguard.ErrAddressRefused) {
		t.Fatalf("err = %v, want ErrAddressRefused", err)
	}
	if n := sink.Connections(t); n != 0 {
		t.Fatalf("refused address saw %d connections, want 0", n)
	}
}

// TestTransportRefusesThroughProxy: with a proxy, a metadata name or a
// refused literal is refused before the proxy is asked.
func TestTransportRefusesThroughProxy(t *testing.T) {
	proxy := netguardtest.Listen(t, "127.0.0.1")
	base := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxy.Addr})}
	hc := &http.Client{Transport: netguard.Default().Guard(base, nil)}
	for _, u := range []string{"http://metadata.google.internal/computeMetadata/v1/", "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/"} {
		resp, err := hc.Get(u)
		if err == nil {
			_ = resp.Body.Close()
		}
		if !errors.Is(err, netguard.ErrAddressRefused) {
			t.Errorf("GET %s: %v, want ErrAddressRefused", u, err)
		}
	}
	if n := proxy.Connections(t); n != 0 {
		t.Fatalf("proxy saw %d connections, want 0", n)
	}
	// An allowed destination does go to the proxy (which hangs up).
	if resp, err := hc.Get("http://registry.example/v2/"); err == nil {
		_ = resp.Body.Close()
	}
	if n := proxy.Connections(t); n != 1 {
		t.Fatalf("proxy saw %d connections for an allowed host, want 1", n)
	}
}
