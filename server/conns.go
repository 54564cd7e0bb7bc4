package server

import (
	"net"
	"net/netip"
	"sync"
)

// connLimiter is a listener that lets each client address hold at most max
// open connections; a connection over the limit is closed as soon as it is
// accepted. Trusted proxies are exempt (their clients are counted by the
// widget's and the API's own limits). It is safe for concurrent use.
type connLimiter struct {
	net.Listener
	max     int
	trusted func(netip.Addr) bool

	mu   sync.Mutex
	open map[netip.Addr]int
}

func newConnLimiter(l net.Listener, max int, trusted func(netip.Addr) bool) *connLimiter {
	return &connLimiter{Listener: l, max: max, trusted: trusted, open: map[netip.Addr]int{}}
}

// Accept returns the next connection whose address is under its limit.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := peerAddr(c.RemoteAddr())
		if l.trusted(ip) {
			return c, nil
		}
		l.mu.Lock()
		if l.open[ip] >= l.max {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open[ip]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *connLimiter) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
}

// peerAddr is a connection's IP address (zero when it has none, e.g. a
// Unix socket: all such connections share one count).
func peerAddr(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// limitedConn gives its slot back once, when closed (also after a
// WebSocket upgrade hijacked it).
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close closes the connection and frees its slot.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
