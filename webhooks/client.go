package webhooks

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// addrRange is a range of addresses with the reason it is refused.
type addrRange struct {
	prefix netip.Prefix
	what   string
}

// addrPolicy decides which addresses the webhook client may connect to.
type addrPolicy struct {
	allowPrivate bool
	always       []addrRange // refused even with allowPrivate
	private      []addrRange // refused unless allowPrivate
	// IPv6 ranges that embed an IPv4 address, judged by it too: NAT64
	// (64:ff9b::/96, 64:ff9b:1::/48, the address in the last 4 bytes) and
	// 6to4 (2002::/16, in bytes 2 to 5).
	embed []embedRange
}

type embedRange struct {
	prefix netip.Prefix
	at     int // index of the embedded IPv4 address in the 16 bytes
}

func newAddrPolicy(allowPrivate bool) *addrPolicy {
	r := func(what string, prefixes ...string) []addrRange {
		out := make([]addrRange, len(prefixes))
		for i, p := range prefixes {
			out[i] = addrRange{netip.MustParsePrefix(p), what}
		}
		return out
	}
	p := &addrPolicy{allowPrivate: allowPrivate, embed: []embedRange{
		{netip.MustParsePrefix("64:ff9b::/96"), 12},
		{netip.MustParsePrefix("64:ff9b:1::/48"), 12},
		{netip.MustParsePrefix("2002::/16"), 2},
	}}
	// Cloud metadata services first, so that they are named as such.
	p.always = append(p.always, r("cloud metadata",
		"169.254.169.254/32", "169.254.170.2/32", "169.254.169.123/32", "100.100.100.200/32",
		"192.0.0.192/32", "fd00:ec2::254/128")...)
	p.always = append(p.always, r("unspecified", "0.0.0.0/8", "::/128")...)
	p.always = append(p.always, r("multicast", "224.0.0.0/4", "ff00::/8")...)
	p.always = append(p.always, r("reserved", "240.0.0.0/4")...)
	p.private = append(p.private, r("loopback", "127.0.0.0/8", "::1/128")...)
	p.private = append(p.private, r("private", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")...)
	p.private = append(p.private, r("link-local", "169.254.0.0/16", "fe80::/10")...)
	p.private = append(p.private, r("shared (CGNAT)", "100.64.0.0/10")...)
	p.private = append(p.private, r("special-purpose",
		"192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
		"::/96", "100::/64", "2001::/32", "2001:db8::/32", "fec0::/10")...)
	return p
}

// check returns an error when the client must not connect to ip.
func (p *addrPolicy) check(ip netip.Addr) error {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return refused("address %v is not allowed", ip)
	}
	for _, e := range p.embed {
		if e.prefix.Contains(ip) {
			b := ip.As16()
			if v4 := netip.AddrFrom4([4]byte(b[e.at : e.at+4])); p.check(v4) != nil {
				return refused("address %v is not allowed (it embeds %v)", ip, v4)
			}
		}
	}
	for _, r := range p.always {
		if r.prefix.Contains(ip) {
			return refused("address %v is not allowed (%s)", ip, r.what)
		}
	}
	if p.allowPrivate {
		return nil
	}
	for _, r := range p.private {
		if r.prefix.Contains(ip) {
			return refused("address %v is not allowed (%s)", ip, r.what)
		}
	}
	return nil
}

// control is a net.Dialer.Control hook: it runs for every connection, after
// DNS resolution, on the address actually dialled.
func (p *addrPolicy) control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return refused("address %q is not allowed", address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return refused("address %q is not allowed", host)
	}
	return p.check(ip)
}

// addrRefused is the address policy's refusal: its text names the
// endpoint's own address and the rule, and is shown in the delivery log.
type addrRefused struct{ msg string }

func (e *addrRefused) Error() string { return e.msg }

func refused(format string, args ...any) error { return &addrRefused{fmt.Sprintf(format, args...)} }

// CheckAddr returns an error when a webhook may not be sent to ip: loopback,
// private, link-local, shared (CGNAT), special-purpose, multicast,
// unspecified or reserved addresses and cloud metadata services. With
// allowPrivate only the multicast, unspecified, reserved and metadata
// addresses are refused.
func CheckAddr(ip netip.Addr, allowPrivate bool) error {
	return newAddrPolicy(allowPrivate).check(ip)
}

// NewClient returns the HTTP client webhooks are sent with: every connection
// is checked with CheckAddr after DNS resolution (a net.Dialer.Control
// hook, so a name that resolves to a refused address is refused, and so is
// every later connection); it uses no proxy from the environment, follows no
// redirect (the 3xx reply is returned), and gives up on a request after
// timeout.
func NewClient(timeout time.Duration, allowPrivate bool, maxConnsPerHost int) *http.Client {
	policy := newAddrPolicy(allowPrivate)
	dialer := &net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second, Control: policy.control}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    min(timeout, 10*time.Second),
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    max(maxConnsPerHost, 2),
		MaxConnsPerHost:        max(maxConnsPerHost, 2),
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
