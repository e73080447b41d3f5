package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrAddressRefused: a destination is link-local, a cloud metadata service,
// or in a refused CIDR. Every refusal wraps it (see RefusedError).
var ErrAddressRefused = errors.New("address refused")

// RefusedError says which destination was refused and why.
type RefusedError struct {
	// Host is the name or address that was asked for.
	Host string
	// IP is the address it resolved to; invalid when the name itself was
	// refused before resolution.
	IP netip.Addr
	// Why names the rule, e.g. "link-local (169.254.0.0/16)".
	Why string
}

func (e *RefusedError) Error() string {
	if !e.IP.IsValid() {
		return fmt.Sprintf("%s: host %q is %s (refused before resolution)", ErrAddressRefused, e.Host, e.Why)
	}
	if e.Host == "" || e.Host == e.IP.String() {
		return fmt.Sprintf("%s: %s is %s", ErrAddressRefused, e.IP, e.Why)
	}
	return fmt.Sprintf("%s: host %q resolved to %s, which is %s", ErrAddressRefused, e.Host, e.IP, e.Why)
}

// Unwrap makes errors.Is(err, ErrAddressRefused) hold.
func (e *RefusedError) Unwrap() error { return ErrAddressRefused }

// rule is one refused range and the reason given for it.
type rule struct {
	prefix netip.Prefix
	why    string
}

// fixedRules are refused unless AllowLinkLocal: link-local ranges (cloud
// instance metadata at 169.254.169.254, ECS task metadata at 169.254.170.2,
// and no legitimate registry) and metadata services outside them.
var fixedRules = []rule{
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("224.0.0.0/24"), "link-local multicast"},
	{netip.MustParsePrefix("ff02::/16"), "link-local multicast"},
	{netip.MustParsePrefix("100.100.100.200/32"), "a cloud metadata service (Alibaba Cloud)"},
	{netip.MustParsePrefix("fd00:ec2::/32"), "a cloud metadata service (AWS IPv6, fd00:ec2::254)"},
	{netip.MustParsePrefix("fd20:ce::254/128"), "a cloud metadata service (GCP IPv6)"},
	{netip.MustParsePrefix("168.63.129.16/32"), "a cloud platform endpoint (Azure WireServer)"},
}

// metadataHosts are host names of instance-metadata services, refused
// before resolution (their addresses are refused after it as well).
var metadataHosts = map[string]string{
	"metadata.google.internal":   "a cloud metadata service's name (GCP)",
	"metadata.goog":              "a cloud metadata service's name (GCP)",
	"metadata":                   "a cloud metadata service's name (GCP short name)",
	"instance-data":              "a cloud metadata service's name (AWS)",
	"instance-data.ec2.internal": "a cloud metadata service's name (AWS)",
}

// nat64 is the well-known NAT64 prefix: 64:ff9b::a.b.c.d reaches a.b.c.d.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Options configures a Policy. The zero value refuses the fixed set.
type Options struct {
	// DeniedCIDRs are refused in addition to the fixed set.
	DeniedCIDRs []netip.Prefix
	// AllowLinkLocal lifts the fixed set (link-local and metadata ranges
	// and names); DeniedCIDRs still apply. Only for a cluster that really
	// serves modules from a link-local address.
	AllowLinkLocal bool
}

// Policy says which destinations are refused. A nil *Policy refuses the
// fixed set, as Default does. It is immutable and safe for concurrent use.
type Policy struct {
	rules []rule
	names map[string]string
}

// Default is the production policy: the fixed set, nothing else.
func Default() *Policy { return New(Options{}) }

// New returns the policy o describes.
func New(o Options) *Policy {
	p := &Policy{names: map[string]string{}}
	if !o.AllowLinkLocal {
		p.rules = append(p.rules, fixedRules...)
		for n, why := range metadataHosts {
			p.names[n] = why
		}
	}
	for _, c := range o.DeniedCIDRs {
		p.rules = append(p.rules, rule{c.Masked(), "in a refused CIDR (--denied-cidrs)"})
	}
	return p
}

func (p *Policy) orDefault() *Policy {
	if p == nil {
		return defaultPolicy
	}
	return p
}

var defaultPolicy = Default()

// CheckIP returns a *RefusedError when ip, which host resolved to, is
// refused. IPv4 addresses carried in IPv6 (IPv4-mapped, NAT64) are judged
// as that IPv4 address too, and a zone is ignored.
func (p *Policy) CheckIP(host string, ip netip.Addr) error {
	p = p.orDefault()
	ip = ip.WithZone("")
	for _, a := range candidates(ip) {
		for _, r := range p.rules {
			if r.prefix.Contains(a) {
				return &RefusedError{Host: host, IP: ip, Why: fmt.Sprintf("%s (%s)", r.why, r.prefix)}
			}
		}
	}
	return nil
}

// candidates are the addresses ip stands for: itself and any IPv4 address
// it carries.
func candidates(ip netip.Addr) []netip.Addr {
	out := []netip.Addr{ip}
	switch {
	case ip.Is4In6():
		out = append(out, ip.Unmap())
	case nat64.Contains(ip):
		b := ip.As16()
		out = append(out, netip.AddrFrom4([4]byte(b[12:])))
	}
	return out
}

// CheckHost refuses host before any resolution: a metadata service's
// name, or an address literal CheckIP refuses. Other names pass; their
// addresses are checked when dialed.
func (p *Policy) CheckHost(host string) error {
	p = p.orDefault()
	h := strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if why, ok := p.names[h]; ok {
		return &RefusedError{Host: host, Why: why}
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return p.CheckIP(host, ip)
	}
	return nil
}

// ParseCIDRs parses a comma-separated CIDR list (the --denied-cidrs flag).
// A bare address is taken as its single-address prefix. Empty is none.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("denied CIDR %q: %w", f, err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pfx, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("denied CIDR %q: %w", f, err)
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}
