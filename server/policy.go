package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/identify"
)

// PolicyStore is what the server needs to enforce applications' security
// settings.
type PolicyStore interface {
	Settings(ctx context.Context, appID string) (*likeness.Settings, error)
	UpdateSettings(ctx context.Context, appID string, s likeness.Settings) (*likeness.Settings, error)
	UpdateOrigins(ctx context.Context, appID string, origins []string) (*likeness.Application, error)
	CheckPIN(ctx context.Context, appID, facialID, pin string) (bool, error)
	PINInUse(ctx context.Context, appID, pin string) (bool, error)
	FaceExtras(ctx context.Context, appID, facialID string) (*likeness.FaceExtras, error)
	Lockout(ctx context.Context, appID, facialID string) (time.Time, error)
	RecordAuthFailure(ctx context.Context, appID, facialID string, max int, lock time.Duration) (bool, error)
	RecordAuthSuccess(ctx context.Context, appID, facialID string) error
}

// CountryDB resolves an IP address to an ISO 3166-1 alpha-2 code ("" when
// unknown).
type CountryDB interface {
	Country(ip netip.Addr) string
}

// Network says where clients come from: which proxies to trust and how to
// learn a client's country.
type Network struct {
	// TrustedProxies are the addresses whose X-Forwarded-For and country
	// header are believed. Without them the client IP is the peer address:
	// no header can spoof it.
	TrustedProxies []netip.Prefix
	Countries      CountryDB // a MaxMind database (--geoip-db), optional
	CountryHeader  string    // e.g. CF-IPCountry, read only from trusted proxies
}

// CanResolveCountries reports whether any country source is configured.
func (n Network) CanResolveCountries() bool { return n.Countries != nil || n.CountryHeader != "" }

func (n Network) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range n.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is the peer address, or — when the peer is a trusted proxy — the
// rightmost address in X-Forwarded-For that is not itself a trusted proxy.
func (n Network) ClientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !n.trusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a malformed chain: trust nothing beyond the proxy
		}
		if a = a.Unmap(); !n.trusted(a) {
			return a
		}
	}
	return peer
}

// country returns the client's country, or "" when unknown.
func (n Network) country(r *http.Request) string {
	if n.CountryHeader != "" {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if peer, err := netip.ParseAddr(host); err == nil && n.trusted(peer) {
				if c := strings.ToUpper(strings.TrimSpace(r.Header.Get(n.CountryHeader))); len(c) == 2 {
					return c
				}
			}
		}
	}
	if n.Countries != nil {
		if ip := n.ClientIP(r); ip.IsValid() {
			return n.Countries.Country(ip)
		}
	}
	return ""
}

// sessionLimits are token buckets for widget sessions per client IP and per
// application, at each application's own rates.
type sessionLimits struct {
	mu   sync.Mutex
	now  func() time.Time
	byID map[string]*keyBucket
}

// allow takes one session from the application's and the IP's buckets.
func (l *sessionLimits) allow(appID string, ip netip.Addr, st *likeness.Settings) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.byID) > 50000 {
		for k, b := range l.byID {
			if now.Sub(b.used) > 10*time.Minute {
				delete(l.byID, k)
			}
		}
	}
	take := func(key string, perMinute int) bool {
		key = key + "|" + itoa(perMinute) // a changed setting starts a fresh bucket
		b := l.byID[key]
		if b == nil {
			b = &keyBucket{lim: rate.NewLimiter(rate.Limit(float64(perMinute)/60), perMinute)}
			l.byID[key] = b
		}
		b.used = now
		return b.lim.AllowN(now, 1)
	}
	return take("ip|"+appID+"|"+ip.String(), st.SessionsPerIPPerMinute) && take("app|"+appID, st.SessionsPerAppPerMinute)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// settingsView is the settings document of the REST API.
type settingsView struct {
	AllowedOrigins []string `json:"allowedOrigins"`
	likeness.Settings
	// Identification (read-only) says what face-only login achieves at the
	// collection's current size under these settings.
	Identification identify.Estimate `json:"identification"`
}

// settingsReply is the settings document of an application.
func (s *Server) settingsReply(c echo.Context, app *likeness.Application, st *likeness.Settings) error {
	n, err := s.cfg.Identify.GallerySize(c.Request().Context(), app.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, settingsView{AllowedOrigins: app.Origins, Settings: *st,
		Identification: identify.Estimated(n, identify.PolicyOf(st))})
}

func (s *Server) handleGetSettings(c echo.Context) error {
	p := principal(c)
	st, err := s.cfg.Policy.Settings(c.Request().Context(), p.App.ID)
	if err != nil {
		return err
	}
	return s.settingsReply(c, p.App, st)
}

// handlePatchSettings merges the given fields into the settings, validates
// the result and stores it.
func (s *Server) handlePatchSettings(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	var patch map[string]json.RawMessage
	if err := bindJSON(c, &patch); err != nil {
		return err
	}
	cur, err := s.cfg.Policy.Settings(ctx, p.App.ID)
	if err != nil {
		return err
	}
	merged := map[string]json.RawMessage{}
	raw, _ := json.Marshal(cur)
	_ = json.Unmarshal(raw, &merged)
	var origins []string
	for k, v := range patch {
		if string(v) == "null" {
			return likeness.Errorf(likeness.EINVALID, "Setting %q cannot be null.", k)
		}
		if k == "identification" {
			continue // read-only: sent back as GET gave it
		}
		if k == "allowedOrigins" {
			if err := json.Unmarshal(v, &origins); err != nil || len(origins) == 0 {
				return likeness.Errorf(likeness.EINVALID, "allowedOrigins must be a non-empty list of origins.")
			}
			for _, o := range origins { // checked before anything is saved
				if _, err := likeness.NormalizeOrigin(o); err != nil {
					return err
				}
			}
			continue
		}
		if _, ok := merged[k]; !ok {
			return likeness.Errorf(likeness.EINVALID, "Unknown setting %q.", k)
		}
		merged[k] = v
	}
	raw, _ = json.Marshal(merged)
	var next likeness.Settings
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&next); err != nil {
		return likeness.Wrap(err, likeness.EINVALID, "A setting has the wrong type: "+jsonProblem(err))
	}
	if err := next.Validate(); err != nil {
		return err
	}
	if len(next.AllowedCountries) > 0 && !s.cfg.Network.CanResolveCountries() {
		return likeness.Errorf(likeness.EPRECONDITION,
			"allowedCountries needs a country source: start the server with --geoip-db or --country-header.")
	}
	st, err := s.cfg.Policy.UpdateSettings(ctx, p.App.ID, next)
	if err != nil {
		return err
	}
	app := p.App
	if origins != nil {
		if app, err = s.cfg.Policy.UpdateOrigins(ctx, p.App.ID, origins); err != nil {
			return err
		}
	}
	return s.settingsReply(c, app, st)
}

// countryAllowed reports whether the request's country is allowed.
func (s *Server) countryAllowed(r *http.Request, st *likeness.Settings) bool {
	if len(st.AllowedCountries) == 0 {
		return true
	}
	c := s.cfg.Network.country(r)
	return c != "" && slices.Contains(st.AllowedCountries, c)
}

// isWeakPIN refuses PINs that are guessed first: one repeated digit, a run
// up or down, a repeated pair, or a common choice.
func isWeakPIN(pin string) bool {
	if len(pin) < 2 {
		return true
	}
	same, up, down, pair := true, true, true, len(pin)%2 == 0
	for i := 1; i < len(pin); i++ {
		same = same && pin[i] == pin[0]
		up = up && pin[i] == pin[i-1]+1
		down = down && pin[i] == pin[i-1]-1
		if pair && i >= 2 {
			pair = pin[i] == pin[i-2]
		}
	}
	common := []string{"1234", "2580", "1212", "1004", "2000", "6969", "1122", "1313", "4321", "2001", "1010",
		"123456", "654321", "121212", "112233", "123123", "159753", "696969", "12345678", "87654321", "11223344"}
	return same || up || down || pair || slices.Contains(common, pin)
}
