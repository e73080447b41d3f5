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
