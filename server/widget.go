package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/static"
)

// Widget operations.
const (
	opEnroll       = "enroll"
	opAuthenticate = "authenticate"
)

// admit checks a widget request against the application's policy: a known
// application and operation, an allowed origin and country. Refusals carry
// the FACEIO code the widget shows.
func (s *Server) admit(c echo.Context) (*likeness.Application, *likeness.Settings, string, error) {
	op := c.QueryParam("op")
	if op != opEnroll && op != opAuthenticate {
		return nil, nil, "", withFio(likeness.Errorf(likeness.EINVALID, "op must be enroll or authenticate."), likeness.FioProcessingErr)
	}
	ctx := c.Request().Context()
	app, err := s.cfg.Apps.AppByPublicID(ctx, c.QueryParam("publicId"))
	if err != nil {
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			return nil, nil, "", withFio(likeness.Errorf(likeness.ENOTFOUND, "Unknown application."), likeness.FioUnauthorized)
		}
		return nil, nil, "", err
	}
	st, err := s.cfg.Policy.Settings(ctx, app.ID)
	if err != nil {
		return nil, nil, "", err
	}
	origin := requestOrigin(c.Request())
	switch {
	case origin == "" && st.RejectEmptyOrigin:
		return nil, nil, "", withFio(likeness.Errorf(likeness.EFORBIDDEN, "The request has no Origin header."), likeness.FioEmptyOrigin)
	case origin != "" && !originAllowed(s.allowedOrigins(app, op), origin):
		return nil, nil, "", withFio(likeness.Errorf(likeness.EFORBIDDEN, "This site is not allowed to use the application."), likeness.FioForbiddenOrigin)
	}
	if !s.countryAllowed(c.Request(), st) {
		return nil, nil, "", withFio(likeness.Errorf(likeness.EFORBIDDEN, "The application is not available in this country."), likeness.FioForbiddenCountry)
	}
	if op == opAuthenticate && s.isOwnOrigin(origin) && app.PublicID != s.cfg.DemoPublicID &&
		st.Liveness != likeness.LivenessStrict {
		// The self-service privacy page verifies people before showing,
		// exporting or erasing their data: always with strict liveness.
		// Its token says so (liveness "strict"), and the page accepts no
		// other, so claiming a site's origin instead gains nothing. The
		// demo application's own page (/demo, same origin) keeps its
		// setting; its privacy page then needs it set to strict.
		strict := *st
		strict.Liveness = likeness.LivenessStrict
		st = &strict
	}
	return app, st, op, nil
}

// isOwnOrigin reports whether origin is this server's (PublicURL): a page
// of the server itself, the privacy page.
func (s *Server) isOwnOrigin(origin string) bool {
	u, err := url.Parse(s.cfg.PublicURL)
	if err != nil || u.Host == "" || origin == "" {
		return false
	}
	return originAllowed([]string{u.Scheme + "://" + u.Host}, origin)
}

// errPADCooldown refuses a client address that failed the liveness check
// padMaxFailures times within padWindow, for padCooldown.
var errPADCooldown = withFio(likeness.Errorf(likeness.ERATELIMIT,
	"Too many failed liveness checks; try again later."), likeness.FioTooManyRequests)

// countRefusal counts a session refused at admission in the outcome
// analytics (Config.Outcomes), as the FACEIO code it was refused with.
func (s *Server) countRefusal(ctx context.Context, appID, op string, code likeness.FioCode) {
	if s.cfg.Outcomes == nil {
		return
	}
	if err := s.cfg.Outcomes.RecordOutcome(ctx, appID, op, code.String()); err != nil {
		s.log.Warn("outcome not counted", "err", err)
	}
}

// requestOrigin returns the Origin header, or for a same-origin request
// without one (browsers omit it on same-origin GETs, as the demo page's
// check is) the request's own origin. Sec-Fetch-Site is set by browsers
// only; other clients can send any Origin anyway, and origins only bind
// browsers.
func requestOrigin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" {
		return o
	}
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		return scheme + "://" + r.Host
	}
	return ""
}

// allowedOrigins are the origins that may run op with the application: its
// own and, for an authentication only, this server's (PublicURL), where the
// self-service privacy page /privacy/{publicId} verifies a person. A page of
// this server never enrolls anyone into a site's application.
func (s *Server) allowedOrigins(app *likeness.Application, op string) []string {
	u, err := url.Parse(s.cfg.PublicURL)
	if op != opAuthenticate || err != nil || u.Host == "" {
		return app.Origins
	}
	return append(slices.Clip(app.Origins), u.Scheme+"://"+u.Host)
}

// originAllowed reports whether a request's Origin is one of the allowed
// origins, compared after the same normalisation the store applies.
func originAllowed(allowed []string, origin string) bool {
	o, err := likeness.NormalizeOrigin(origin)
	if err != nil {
		return false
	}
	for _, a := range allowed {
		if n, err := likeness.NormalizeOrigin(a); err == nil && n == o {
			return true
		}
	}
	return false
}

// handleWidgetCheck lets the widget learn, before opening its socket, whether
// it will be admitted, and with which FACEIO code it is refused: a browser
// cannot read the status of a refused WebSocket upgrade. It reveals nothing
// beyond that, so any origin may read it (without credentials).
func (s *Server) handleWidgetCheck(c echo.Context) error {
	h := c.Response().Header()
	if o := c.Request().Header.Get("Origin"); o != "" {
		h.Set("Access-Control-Allow-Origin", o)
		h.Add("Vary", "Origin")
	}
	h.Set("Cache-Control", "no-store")
	app, _, _, err := s.admit(c)
	if err != nil {
		return err
	}
	if len(s.slots) >= cap(s.slots) {
		return withFio(likeness.Errorf(likeness.ERATELIMIT, "Too many sessions; try again shortly."), likeness.FioTooManyRequests)
	}
	if s.padLim.blocked(app.ID, s.cfg.Network.ClientIP(c.Request())) {
		return errPADCooldown
	}
	return c.JSON(http.StatusOK, map[string]bool{"ok": true})
}

// handleWidgetWS upgrades to the session WebSocket after the same checks.
func (s *Server) handleWidgetWS(c echo.Context) error {
	app, st, op, err := s.admit(c)
	if err != nil {
		return err
	}
	ip := s.cfg.Network.ClientIP(c.Request())
	if s.padLim.blocked(app.ID, ip) {
		s.countRefusal(c.Request().Context(), app.ID, op, likeness.FioTooManyRequests)
		return errPADCooldown
	}
	if !s.sessLim.allow(app.ID, ip, st) {
		return withFio(likeness.Errorf(likeness.ERATELIMIT, "Too many sessions; try again shortly."), likeness.FioTooManyRequests)
	}
	select {
	case s.slots <- struct{}{}:
	default:
		return withFio(likeness.Errorf(likeness.ERATELIMIT, "Too many sessions; try again shortly."), likeness.FioTooManyRequests)
	}
	release := func() { <-s.slots }
	up := websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   16 << 10,
		WriteBufferSize:  4 << 10,
		// Checked in admit already; checked again here so the upgrader never
		// accepts an origin the application does not allow.
		CheckOrigin: func(r *http.Request) bool {
			o := requestOrigin(r)
			return (o == "" && !st.RejectEmptyOrigin) || originAllowed(s.allowedOrigins(app, op), o)
		},
	}
	conn, err := up.Upgrade(c.Response(), c.Request(), nil)
	if err != nil {
		release()
		return nil // the upgrader has replied
	}
	// The Echo context is reused once this handler returns: the session
	// takes what it needs from it now.
	requestID := c.Response().Header().Get(echo.HeaderXRequestID)
	s.sessions.Add(1)
	go func() {
		defer s.sessions.Done()
		defer release()
		ss := newSession(s, conn, app, st, op, requestID)
		ss.clientIP = ip
		ss.run()
	}()
	return nil
}

// handleAsset serves one embedded file with a strong ETag.
func (s *Server) handleAsset(name string) echo.HandlerFunc {
	data, err := static.FS.ReadFile(name)
	sum := sha256.Sum256(data)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	ctype := "text/javascript; charset=utf-8"
	return func(c echo.Context) error {
		if err != nil {
			return likeness.Wrap(err, likeness.EINTERNAL, "Asset missing.")
		}
		h := c.Response().Header()
		h.Set("ETag", etag)
		h.Set("Cache-Control", "no-cache")
		// The widget is loaded by other sites' pages.
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		if c.Request().Header.Get("If-None-Match") == etag {
			return c.NoContent(http.StatusNotModified)
		}
		return c.Blob(http.StatusOK, ctype, data)
	}
}

// demoCSP is the demo page's Content-Security-Policy: nothing but this server.
const demoCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// handleDemo serves the demo page for the demo application.
func (s *Server) handleDemo(c echo.Context) error {
	page, err := static.FS.ReadFile("demo.html")
	if err != nil {
		return likeness.Wrap(err, likeness.EINTERNAL, "Demo page missing.")
	}
	page = bytes.ReplaceAll(page, []byte("__PUBLIC_ID__"), []byte(s.cfg.DemoPublicID))
	h := c.Response().Header()
	h.Set("Content-Security-Policy", demoCSP)
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(http.StatusOK, page)
}
