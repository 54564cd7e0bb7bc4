package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
)

// Cookies. The __Host- prefix makes browsers accept them only when Secure,
// with Path=/ and no Domain: no other host (or subdomain) can set or read
// them. Each is strictly necessary: a session, or the form token of a
// visitor who has none yet.
const (
	consoleCookie = "__Host-likeness_console" // console session (JWT)
	privacyCookie = "__Host-likeness_privacy" // privacy page session (JWT)
	preCookie     = "__Host-likeness_pre"     // form token seed before a session exists
)

// Session lifetimes.
const (
	// ConsoleSessionTTL is how long a console session cookie is valid; one
	// used after half of it is replaced by a fresh one.
	ConsoleSessionTTL = 30 * time.Minute
	// ConsoleSessionMax bounds a session from its sign-in, however active.
	ConsoleSessionMax = 12 * time.Hour
	// PrivacySessionTTL is how long a privacy page session lasts after the
	// end user authenticated.
	PrivacySessionTTL = 10 * time.Minute
	preTTL            = 2 * time.Hour
)

// JWT audiences: a console cookie is not a privacy cookie and vice versa.
const (
	consoleAudience = "likeness-console"
	privacyAudience = "likeness-privacy:" // + public ID
)

// sessionClaims are a session cookie's claims: sub is the console account or
// the Facial ID; sid names the session across rotations.
type sessionClaims struct {
	SID  string `json:"sid"`
	Ver  int    `json:"ver,omitempty"`  // console: the account's session version
	Auth int64  `json:"auth,omitempty"` // console: sign-in time (Unix seconds)
	jwt.RegisteredClaims
}

// issueSession signs a session cookie value.
func (h *Handler) issueSession(key []byte, aud string, cl sessionClaims, ttl time.Duration, notAfter time.Time) (string, time.Time, error) {
	now := h.now()
	exp := now.Add(ttl)
	if !notAfter.IsZero() && exp.After(notAfter) {
		exp = notAfter
	}
	cl.RegisteredClaims.Issuer = h.issuer
	cl.RegisteredClaims.Audience = jwt.ClaimStrings{aud}
	cl.RegisteredClaims.IssuedAt = jwt.NewNumericDate(now)
	cl.RegisteredClaims.ExpiresAt = jwt.NewNumericDate(exp)
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, cl).SignedString(key)
	return s, exp, err
}

// parseSession verifies a session cookie value: HS256 only, our issuer and
// the audience, not expired by the injected clock.
func (h *Handler) parseSession(value string, key []byte, aud string) (*sessionClaims, error) {
	var cl sessionClaims
	_, err := jwt.ParseWithClaims(value, &cl, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(h.issuer),
		jwt.WithAudience(aud), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(h.now))
	if err != nil || cl.SID == "" || cl.Subject == "" {
		return nil, errors.New("web: bad session")
	}
	return &cl, nil
}

// setCookie sets an HttpOnly, Secure, SameSite=Strict cookie for the whole
// host; an empty value with a zero expiry deletes it.
func setCookie(c echo.Context, name, value string, exp time.Time, now time.Time) {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode}
	if value == "" {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = max(1, int(exp.Sub(now).Seconds()))
	}
	c.SetCookie(ck)
}

func newID() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// formToken is the CSRF token of a session (or pre-session seed): an HMAC,
// so nothing is stored and a token is useless with another session.
func (h *Handler) formToken(kind, id string) string {
	m := hmac.New(sha256.New, h.csrfKey)
	m.Write([]byte(kind + "\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (h *Handler) formTokenOK(c echo.Context, kind, id string) bool {
	got := c.Request().PostFormValue("csrf")
	want := h.formToken(kind, id)
	return got != "" && hmac.Equal([]byte(got), []byte(want))
}

var errCSRF = likeness.Errorf(likeness.EFORBIDDEN,
	"This form has expired or was not sent from this site. Reload the page and try again.")

// preToken returns the form token of a visitor without a session, setting
// the seed cookie when it is missing.
func (h *Handler) preToken(c echo.Context) string {
	if ck, err := c.Cookie(preCookie); err == nil && len(ck.Value) >= 20 && len(ck.Value) <= 64 {
		return h.formToken("pre", ck.Value)
	}
	seed := newID()
	now := h.now()
	setCookie(c, preCookie, seed, now.Add(preTTL), now)
	return h.formToken("pre", seed)
}

// checkPreCSRF checks the form token of a form sent without a session (sign
// in, sign up, the privacy page's verification).
func (h *Handler) checkPreCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ck, err := c.Cookie(preCookie)
		if err != nil || !h.formTokenOK(c, "pre", ck.Value) {
			return errCSRF
		}
		return next(c)
	}
}

// sameOrigin refuses state-changing requests that a browser says come from
// another site: Sec-Fetch-Site must be same-origin when present, and Origin
// must be this server's when present (and not "null"). The form token is
// checked as well: this is a second, independent line.
func (h *Handler) sameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
			return next(c)
		}
		if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
			return errCSRF
		}
		// "null" is what browsers send for a same-origin form post from a page
		// with Referrer-Policy: no-referrer (every page here): no information.
		if o := r.Header.Get("Origin"); o != "" && o != "null" && !h.ownOrigin(r, o) {
			return errCSRF
		}
		return next(c)
	}
}

// ownOrigin reports whether origin is this server's public origin or the
// origin the request was addressed to.
func (h *Handler) ownOrigin(r *http.Request, origin string) bool {
	o, err := likeness.NormalizeOrigin(origin)
	if err != nil {
		return false
	}
	if o == h.origin {
		return true
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	self, err := likeness.NormalizeOrigin(scheme + "://" + r.Host)
	return err == nil && o == self
}

// consoleSession is the signed-in account of a console request.
type consoleSession struct {
	user   *likeness.User
	claims *sessionClaims
	csrf   string
}

const sessionKey = "likeness.console"

func currentSession(c echo.Context) *consoleSession {
	s, _ := c.Get(sessionKey).(*consoleSession)
	return s
}

// startSession signs the account in: a new session ID (never one the
// browser brought) and a fresh cookie.
func (h *Handler) startSession(c echo.Context, u *likeness.User) error {
	now := h.now()
	cl := sessionClaims{SID: newID(), Ver: u.SessionVersion, Auth: now.Unix(),
		RegisteredClaims: jwt.RegisteredClaims{Subject: u.ID}}
	v, exp, err := h.issueSession(h.consoleKey, consoleAudience, cl, ConsoleSessionTTL, now.Add(ConsoleSessionMax))
	if err != nil {
		return err
	}
	setCookie(c, consoleCookie, v, exp, now)
	return nil
}

// requireUser admits requests with a valid console session: a cookie that
// verifies, an account that exists with the same session version, a session
// not signed out and not older than ConsoleSessionMax. Past half its
// lifetime the cookie is replaced. Others are sent to sign in.
func (h *Handler) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		s, err := h.session(c)
		if err != nil {
			return err
		}
		if s == nil {
			setCookie(c, consoleCookie, "", time.Time{}, h.now())
			return c.Redirect(http.StatusSeeOther, "/console/signin?next="+url.QueryEscape(nextPath(c.Request().URL)))
		}
		now := h.now()
		if now.Sub(s.claims.IssuedAt.Time) >= ConsoleSessionTTL/2 {
			cl := *s.claims
			v, exp, err := h.issueSession(h.consoleKey, consoleAudience, cl, ConsoleSessionTTL,
				time.Unix(cl.Auth, 0).Add(ConsoleSessionMax))
			if err != nil {
				return err
			}
			setCookie(c, consoleCookie, v, exp, now)
		}
		c.Set(sessionKey, s)
		ctx = likeness.WithActor(ctx, "console:"+s.user.ID)
		c.SetRequest(c.Request().WithContext(ctx))
		if s.user.MustChangePassword && c.Path() != "/console/account" && c.Path() != "/console/account/password" &&
			c.Path() != "/console/signout" {
			return c.Redirect(http.StatusSeeOther, "/console/account")
		}
		return next(c)
	}
}

// session returns the request's valid console session, or nil.
func (h *Handler) session(c echo.Context) (*consoleSession, error) {
	ck, err := c.Cookie(consoleCookie)
	if err != nil {
		return nil, nil
	}
	cl, err := h.parseSession(ck.Value, h.consoleKey, consoleAudience)
	if err != nil || h.now().After(time.Unix(cl.Auth, 0).Add(ConsoleSessionMax)) {
		return nil, nil
	}
	ctx := c.Request().Context()
	u, err := h.store.User(ctx, cl.Subject)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.SessionVersion != cl.Ver {
		return nil, nil
	}
	revoked, err := h.store.SessionRevoked(ctx, cl.SID)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, nil
	}
	return &consoleSession{user: u, claims: cl, csrf: h.formToken("console", cl.SID)}, nil
}

// checkCSRF checks the form token of every console POST against the session.
func (h *Handler) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method != http.MethodPost {
			return next(c)
		}
		s := currentSession(c)
		if s == nil || !h.formTokenOK(c, "console", s.claims.SID) {
			return errCSRF
		}
		return next(c)
	}
}

// nextPath is where to return after signing in: this console page.
func nextPath(u *url.URL) string {
	if u.RawQuery == "" {
		return u.Path
	}
	return u.Path + "?" + u.RawQuery
}

// safeNext accepts only a console path of this server as a redirect target.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		strings.HasPrefix(next, "/console/signin") || strings.HasPrefix(next, "/console/signup") {
		return "/console/apps"
	}
	return next
}
