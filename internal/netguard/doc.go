// Package netguard decides which network destinations the operator may
// connect to, and enforces it at the dialer.
//
// It owns: the fixed set of refused destinations (link-local addresses,
// cloud instance-metadata addresses and host names), the operator's extra
// refused CIDRs (--denied-cidrs), and the dial hook and HTTP transport that
// apply them to every outbound connection: registries, token realms named
// in WWW-Authenticate, HTTP module sources, Sigstore TUF mirrors and every
// redirect any of them answers with. A refused address is never connected
// to: the check runs in the dialer's control hook, after DNS resolution and
// before the socket connects, on the very IP about to be dialed, so a name
// that resolves (or is re-pointed, or redirected) to a refused address is
// refused too. Host names of metadata services are refused before they are
// resolved.
//
// It must not: decide which registries are allowed (internal/policy does),
// retry, or log. Callers test errors with errors.Is(err, ErrAddressRefused);
// a refusal needs a person (fix the reference or the policy), retrying
// cannot help.
//
// The fixed set follows what Istio's agent does since 1.30 when it fetches
// Wasm modules (istio/istio pkg/wasm/ssrf.go, wasmBlockedIP and
// wasmDialContext, over pkg/security/dial.go, BlockedIPDialContext,
// IsLinkLocal and IsKnownCloudMetadataAddress): link-local unicast and
// multicast, 100.100.100.200/32 and fd00:ec2::/32 always refused, in the
// dialer's Control hook; extra CIDRs from the environment variable
// BLOCKED_CIDRS_IN_WASM_FETCH; private and loopback ranges deliberately
// allowed (in-cluster registries live there). This package adds: IPv4
// addresses embedded in IPv6 (IPv4-mapped ::ffff:a.b.c.d and the NAT64
// prefix 64:ff9b::/96) are judged as the IPv4 address they carry; zoned
// IPv6 addresses are judged without their zone; well-known metadata host
// names are refused before resolution (also when a proxy would resolve
// them); GCP's IPv6 metadata address fd20:ce::254 and Azure's WireServer
// 168.63.129.16 are refused as well (oras-go v2.7's token-realm denylist,
// registry/remote/auth, names them too; oras-go refuses loopback realms
// besides, which this package does not refuse in general); and an escape
// hatch (AllowLinkLocal) for clusters that really host
// a registry on a link-local address.
package netguard
