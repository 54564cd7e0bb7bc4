package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
)

// hstsValue is sent on replies that reached the client over HTTPS.
const hstsValue = "max-age=31536000; includeSubDomains"

// maxRequestIDLen bounds a client's X-Request-Id.
const maxRequestIDLen = 64

// validRequestID reports whether a client's request ID is short and plain:
// 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'. Anything else
// (long values, spaces, control characters, quotes, non-ASCII) is replaced
// by an ID of our own so it never reaches a log line or a reply as is.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// requestID keeps a client's plain request ID or makes one, and sets it on
// the request and the reply.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		id := r.Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) || len(r.Header.Values(echo.HeaderXRequestID)) > 1 {
			id = uuid.NewString()
		}
		r.Header.Set(echo.HeaderXRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

// overHTTPS reports whether the client reached the server over HTTPS: TLS
// on this connection, or X-Forwarded-Proto: https from a trusted proxy (the
// header of any other peer is ignored).
func (n Network) overHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if len(n.TrustedProxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !n.trusted(peer) {
		return false
	}
	// A proxy chain may list one value per hop; the nearest proxy's is last.
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-Proto"), ","), ",")
	return strings.EqualFold(strings.TrimSpace(hops[len(hops)-1]), "https")
}

// securityHeaders sets the headers every reply carries.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", likeness.PermissionsPolicyNone)
		if s.cfg.Network.overHTTPS(c.Request()) {
			h.Set("Strict-Transport-Security", hstsValue)
		}
		return next(c)
	}
}
