package httpsource

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/wasmext/wasmext/internal/netguard"
	"github.com/wasmext/wasmext/internal/netguard/netguardtest"
	"github.com/wasmext/wasmext/internal/oci"
	"github.com/wasmext/wasmext/internal/wasm/wasmtest"
)

// TestFetchKeepsTheCallersGuard: the caller's transport (the operator's
// outbound-address policy) decides every connection, redirects included,
// also on the clone made for a custom CA; a refused address is never
// connected to and is no outage.
func TestFetchKeepsTheCallersGuard(t *testing.T) {
	sink := netguardtest.Listen(t, "127.0.0.2")
	guard := netguard.New(netguard.Options{DeniedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	f := New(Options{Transport: guard.Transport()})
	sha := sum(wasmtest.ProxyWasm)

	plain := httptest.NewServer(http.RedirectHandler("http://"+sink.Addr+"/f.wasm", http.StatusFound))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler("https://"+sink.Addr+"/f.wasm", http.StatusFound))
	defer tlsSrv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	for name, req := range map[string]Request{
		"direct":             {URL: "http://" + sink.Addr + "/f.wasm", SHA256: sha},
		"redirect":           {URL: plain.URL + "/f.wasm", SHA256: sha},
		"redirect with a CA": {URL: tlsSrv.URL + "/f.wasm", SHA256: sha, CA: ca},
	} {
		_, err := f.Fetch(context.Background(), req)
		if !errors.Is(err, netguard.ErrAddressRefused) || errors.Is(err, oci.ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrAddressRefused (no outage)", name, err)
		}
	}
	if n := sink.Connections(t); n != 0 {
		t.Fatalf("the refused address saw %d connections, want 0", n)
	}
}

// TestDefaultTransportIsGuarded: without a Transport from the caller, the
// default outbound-address policy still refuses cloud metadata, by
// address and by name, before anything is dialed.
func TestDefaultTransportIsGuarded(t *testing.T) {
	f := New(Options{})
	for _, url := range []string{"http://169.254.169.254/latest/f.wasm", "http://metadata.google.internal/f.wasm", "http://[fe80::1]/f.wasm"} {
		_, err := f.Fetch(context.Background(), Request{URL: url, SHA256: sum(wasmtest.ProxyWasm)})
		if !errors.Is(err, netguard.ErrAddressRefused) {
			t.Errorf("%s: err = %v, want ErrAddressRefused", url, err)
		}
	}
}
