package main

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/wasmext/wasmext/internal/netguard"
)

// TestParseFlagsOutboundAddresses: --denied-cidrs and --allow-link-local
// reach the outbound-address policy; a bad CIDR stops the operator before
// it starts.
func TestParseFlagsOutboundAddresses(t *testing.T) {
	refused := func(o *options, ip string) bool {
		return errors.Is(o.guard.CheckIP("", netip.MustParseAddr(ip)), netguard.ErrAddressRefused)
	}
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !refused(o, "169.254.169.254") || refused(o, "10.1.2.3") {
		t.Error("defaults: want link-local refused, private addresses allowed")
	}
	if o, err = parseFlags([]string{"--denied-cidrs=10.0.0.0/8, fd00::/8"}); err != nil {
		t.Fatal(err)
	}
	if !refused(o, "10.1.2.3") || !refused(o, "fd00::1") || !refused(o, "169.254.169.254") || refused(o, "192.168.0.1") {
		t.Error("--denied-cidrs: want 10/8, fd00::/8 and link-local refused, 192.168/16 allowed")
	}
	if o, err = parseFlags([]string{"--allow-link-local", "--denied-cidrs=169.254.169.254"}); err != nil {
		t.Fatal(err)
	}
	if refused(o, "169.254.1.1") || !refused(o, "169.254.169.254") {
		t.Error("--allow-link-local: want link-local allowed except the denied CIDR")
	}
	for _, bad := range []string{"--denied-cidrs=10.0.0.0/33", "--denied-cidrs=metadata.google.internal"} {
		if _, err := parseFlags([]string{bad}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
