package netguard

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// DialFunc is the shape of net.Dialer.DialContext and
// http.Transport.DialContext.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// DialContext returns d's DialContext with the policy applied: the host of
// address is refused before resolution when CheckHost refuses it, and every
// IP the dialer is about to connect to (after resolution, each address it
// tries) is refused in the dialer's control hook, before the socket
// connects, when CheckIP refuses it. d is copied, not changed; its own
// Control or ControlContext still runs after the check. A nil d is a
// dialer with a 10 s timeout and 30 s keep-alive.
func (p *Policy) DialContext(d *net.Dialer) DialFunc {
	p = p.orDefault()
	if d == nil {
		d = defaultDialer()
	}
	base := *d
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			host = address
		}
		if err := p.CheckHost(host); err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		dd := base
		dd.Control = nil
		dd.ControlContext = p.control(host, base.ControlContext, base.Control)
		return dd.DialContext(ctx, network, address)
	}
}

// control checks the resolved address, then runs the dialer's own hook.
func (p *Policy) control(host string,
	nextCtx func(context.Context, string, string, syscall.RawConn) error,
	next func(string, string, syscall.RawConn) error,
) func(context.Context, string, string, syscall.RawConn) error {
	return func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if err := p.checkDialed(host, address); err != nil {
			return err
		}
		switch {
		case nextCtx != nil:
			return nextCtx(ctx, network, address, c)
		case next != nil:
			return next(network, address, c)
		}
		return nil
	}
}

// checkDialed checks the "ip:port" the dialer is about to connect to. An
// address that is no IP is refused: nothing is dialed unchecked.
func (p *Policy) checkDialed(host, address string) error {
	h, _, err := net.SplitHostPort(address)
	if err != nil {
		h = address
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return &RefusedError{Host: host, Why: fmt.Sprintf("not an IP address once resolved (%q)", address)}
	}
	return p.CheckIP(host, ip)
}

func defaultDialer() *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
}

// Guard returns a clone of t whose every connection goes through the
// policy: DialContext is p.DialContext(d) (t's Dial, DialTLS and
// DialTLSContext hooks are dropped, since they would dial unchecked; TLS is
// done by the transport over the guarded connection), and each request's
// host is checked with CheckHost before anything is resolved or sent. With
// a proxy, the proxy's address is what is dialed and checked; the
// destination's name or literal address is still checked before the
// request goes to the proxy. A nil t is a clone of http.DefaultTransport.
func (p *Policy) Guard(t *http.Transport, d *net.Dialer) *http.Transport {
	p = p.orDefault()
	if t == nil {
		dt, ok := http.DefaultTransport.(*http.Transport)
		if !ok {
			dt = &http.Transport{Proxy: http.ProxyFromEnvironment}
		}
		t = dt
	}
	t = t.Clone()
	t.Dial = nil    //nolint:staticcheck // cleared so that nothing dials unchecked
	t.DialTLS = nil //nolint:staticcheck // cleared so that nothing dials unchecked
	t.DialTLSContext = nil
	t.DialContext = p.DialContext(d)
	proxy := t.Proxy
	t.Proxy = func(req *http.Request) (*url.URL, error) {
		if err := p.CheckHost(req.URL.Hostname()); err != nil {
			return nil, err
		}
		if proxy == nil {
			return nil, nil //nolint:nilnil // no proxy, as http.Transport.Proxy means it
		}
		return proxy(req)
	}
	return t
}

// Transport returns a guarded clone of http.DefaultTransport with a 10 s
// dial timeout, for clients (such as an HTTP module source) that set their
// own TLS configuration on it.
func (p *Policy) Transport() *http.Transport { return p.Guard(nil, nil) }
