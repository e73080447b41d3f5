package netguard_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/wasmext/wasmext/internal/netguard"
)

func TestCheckIP(t *testing.T) {
	denied := mustCIDRs(t, "10.20.0.0/16,2001:db8:1::/48")
	p := netguard.New(netguard.Options{DeniedCIDRs: denied})
	cases := []struct {
		ip      string
		refused bool
		why     string
	}{
		{"169.254.169.254", true, "169.254.0.0/16"}, // AWS, GCP, Azure, OCI metadata
		{"169.254.170.2", true, "169.254.0.0/16"},   // ECS task metadata
		{"169.254.0.1", true, "link-local"},
		{"169.254.255.255", true, "link-local"},
		{"fe80::1", true, "fe80::/10"},
		{"febf:ffff::1", true, "fe80::/10"},
		{"fe80::1%eth0", true, "fe80::/10"}, // a zone does not hide it
		{"fd00:ec2::254", true, "fd00:ec2::/32"},
		{"fd00:ec2::23", true, "fd00:ec2::/32"},
		{"100.100.100.200", true, "Alibaba"},
		{"fd20:ce::254", true, "GCP"},
		{"168.63.129.16", true, "Azure"},
		{"::ffff:168.63.129.16", true, "Azure"},
		{"224.0.0.251", true, "multicast"},
		{"ff02::1", true, "multicast"},
		{"::ffff:169.254.169.254", true, "169.254.0.0/16"}, // IPv4-mapped
		{"::ffff:a9fe:a9fe", true, "169.254.0.0/16"},       // the same, in hex
		{"64:ff9b::169.254.169.254", true, "169.254.0.0/16"},
		{"::ffff:100.100.100.200", true, "Alibaba"},
		{"10.20.3.4", true, "--denied-cidrs"},
		{"::ffff:10.20.3.4", true, "10.20.0.0/16"},
		{"2001:db8:1::5", true, "2001:db8:1::/48"},
		// Allowed: public, private, loopback (in-cluster registries).
		{"8.8.8.8", false, ""},
		{"10.0.0.1", false, ""},
		{"10.21.0.1", false, ""},
		{"172.16.0.1", false, ""},
		{"192.168.1.1", false, ""},
		{"127.0.0.1", false, ""},
		{"::1", false, ""},
		{"fd12:3456::1", false, ""}, // ULA outside AWS's prefix
		{"fd00:ec3::254", false, ""},
		{"fd20:ce::253", false, ""},
		{"168.63.129.17", false, ""},
		{"169.253.255.255", false, ""},
		{"169.255.0.0", false, ""},
		{"fec0::1", false, ""},
		{"100.100.100.201", false, ""},
		{"2001:db8:2::5", false, ""},
		{"2606:4700::1111", false, ""},
		{"64:ff9b::8.8.8.8", false, ""},
	}
	for _, c := range cases {
		t.Run(c.ip, func(t *testing.T) {
			err := p.CheckIP("example.test", netip.MustParseAddr(c.ip))
			checkRefusal(t, err, c.refused, c.why)
		})
	}
}

func checkRefusal(t *testing.T, err error, refused bool, why string) {
	t.Helper()
	if !refused {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if !errors.Is(err, netguard.ErrAddressRefused) {
		t.Fatalf("err = %v, want ErrAddressRefused", err)
	}
	var re *netguard.RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("err %T is no *RefusedError", err)
	}
	if !strings.Contains(err.Error(), why) {
		t.Fatalf("message %q does not say %q", err, why)
	}
}

func TestCheckHost(t *testing.T) {
	p := netguard.Default()
	cases := []struct {
		host    string
		refused bool
		why     string
	}{
		{"metadata.google.internal", true, "metadata"},
		{"METADATA.Google.Internal.", true, "refused before resolution"},
		{"metadata.goog", true, "GCP"},
		{"metadata", true, "GCP"},
		{"instance-data", true, "AWS"},
		{"instance-data.ec2.internal", true, "AWS"},
		{"169.254.169.254", true, "link-local"},
		{"[fe80::1]", true, "link-local"},
		{"[fd00:ec2::254]", true, "metadata"},
		{"ghcr.example", false, ""},
		{"metadata.example.com", false, ""}, // not the service, only alike
		{"registry.metadata.google.internal.example", false, ""},
		{"10.0.0.1", false, ""},
		{"localhost", false, ""}, // judged by its addresses when dialed
	}
	for _, c := range cases {
		t.Run(c.host, func(t *testing.T) {
			checkRefusal(t, p.CheckHost(c.host), c.refused, c.why)
		})
	}
}

func TestMessageNamesHostIPAndWhy(t *testing.T) {
	err := netguard.Default().CheckIP("evil.example", netip.MustParseAddr("169.254.169.254"))
	want := `address refused: host "evil.example" resolved to 169.254.169.254, which is link-local (169.254.0.0/16)`
	if err == nil || err.Error() != want {
		t.Fatalf("message = %v\nwant      %s", err, want)
	}
	err = netguard.Default().CheckHost("metadata.goog")
	if err == nil || !strings.Contains(err.Error(), `host "metadata.goog"`) {
		t.Fatalf("message = %v", err)
	}
}

func TestAllowLinkLocal(t *testing.T) {
	p := netguard.New(netguard.Options{AllowLinkLocal: true, DeniedCIDRs: mustCIDRs(t, "169.254.169.254")})
	if err := p.CheckIP("", netip.MustParseAddr("169.254.10.1")); err != nil {
		t.Fatalf("link-local refused with AllowLinkLocal: %v", err)
	}
	if err := p.CheckHost("metadata.google.internal"); err != nil {
		t.Fatalf("metadata name refused with AllowLinkLocal: %v", err)
	}
	if err := p.CheckIP("", netip.MustParseAddr("169.254.169.254")); !errors.Is(err, netguard.ErrAddressRefused) {
		t.Fatalf("denied CIDR not refused with AllowLinkLocal: %v", err)
	}
}

func TestNilPolicyIsDefault(t *testing.T) {
	var p *netguard.Policy
	if err := p.CheckIP("", netip.MustParseAddr("169.254.169.254")); !errors.Is(err, netguard.ErrAddressRefused) {
		t.Fatalf("nil policy allowed link-local: %v", err)
	}
	if err := p.CheckIP("", netip.MustParseAddr("10.0.0.1")); err != nil {
		t.Fatalf("nil policy refused a private address: %v", err)
	}
}

func TestParseCIDRs(t *testing.T) {
	got, err := netguard.ParseCIDRs(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,,::1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "::1/128"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if got, err := netguard.ParseCIDRs("10.1.2.3/8"); err != nil || got[0].String() != "10.0.0.0/8" {
		t.Fatalf("10.1.2.3/8 = %v, %v; want masked 10.0.0.0/8", got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "nonsense", "10.0.0/8", "fe80::/129"} {
		if _, err := netguard.ParseCIDRs(bad); err == nil {
			t.Errorf("ParseCIDRs(%q) accepted", bad)
		}
	}
	if got, err := netguard.ParseCIDRs(""); err != nil || len(got) != 0 {
		t.Fatalf(`ParseCIDRs("") = %v, %v`, got, err)
	}
}

func mustCIDRs(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	c, err := netguard.ParseCIDRs(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
