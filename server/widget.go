package server

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/consent"
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
			s.countUnknownApp(ctx, requestOrigin(c.Request()), op)
			return nil, nil, "", withFio(likeness.Errorf(likeness.ENOTFOUND, "Unknown application."), likeness.FioUnauthorized)
		}
		return nil, nil, "", err
	}
	st, err := s.cfg.Policy.Settings(ctx, app.ID)
	if err != nil {
		return nil, nil, "", err
	}
	origin := requestOrigin(c.Request())
	// Refusals of a known application are counted in its analytics, so its
	// owner sees sites being refused (the console warns about 17).
	refuse := func(msg string, code likeness.FioCode) (*likeness.Application, *likeness.Settings, string, error) {
		s.countRefusal(ctx, app.ID, op, code)
		return nil, nil, "", withFio(likeness.Errorf(likeness.EFORBIDDEN, "%s", msg), code)
	}
	switch {
	case origin == "" && st.RejectEmptyOrigin:
		return refuse("The request has no Origin header.", likeness.FioEmptyOrigin)
	case origin != "" && !originAllowed(s.allowedOrigins(app, op, c.QueryParam("purpose")), origin):
		return refuse("This site is not allowed to use the application.", likeness.FioForbiddenOrigin)
	}
	if !s.countryAllowed(c.Request(), st) {
		return refuse("The application is not available in this country.", likeness.FioForbiddenCountry)
	}
	if op == opAuthenticate && c.QueryParam("purpose") == likeness.PurposePrivacy && s.ownOrigin(origin) &&
		st.Liveness != likeness.LivenessStrict {
		// The self-service privacy page verifies people before showing,
		// exporting or erasing their data: always with strict liveness.
		// Its token says so (purpose "privacy", liveness "strict"), and the
		// page accepts no other.
		strict := *st
		strict.Liveness = likeness.LivenessStrict
		st = &strict
	}
	return app, st, op, nil
}

// admitPurpose checks the purpose a widget session asks for: none (a
// site's result token) or likeness.PurposePrivacy, which only this server's
// own privacy page may ask for (an authentication from this server's
// origin). A site's page, whatever it sends, never gets a token the privacy
// page accepts.
func (s *Server) admitPurpose(c echo.Context, op string) (string, error) {
	switch p := c.QueryParam("purpose"); p {
	case "":
		return "", nil
	case likeness.PurposePrivacy:
		if op == opAuthenticate && s.ownOrigin(requestOrigin(c.Request())) {
			return p, nil
		}
		return "", withFio(likeness.Errorf(likeness.EFORBIDDEN, "Only this server's privacy page may verify for it."), likeness.FioForbiddenOrigin)
	default:
		return "", withFio(likeness.Errorf(likeness.EINVALID, "Unknown purpose."), likeness.FioProcessingErr)
	}
}

// ownOrigin reports whether origin is this server's public origin.
func (s *Server) ownOrigin(origin string) bool {
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

// errTooManySessions refuses a session over the rate or concurrency limits.
var errTooManySessions = withFio(likeness.Errorf(likeness.ERATELIMIT, "Too many sessions; try again shortly."),
	likeness.FioTooManyRequests)

// countRefusal counts a session refused at admission in the outcome
// analytics (Config.Outcomes), as the FACEIO code it was refused with.
func (s *Server) countRefusal(ctx context.Context, appID, op string, code likeness.FioCode) {
	if s.cfg.Observer != nil {
		s.cfg.Observer.SessionEnded(op, code.String())
	}
	if s.cfg.Outcomes == nil {
		return
	}
	if err := s.cfg.Outcomes.RecordOutcome(ctx, appID, op, code.String()); err != nil {
		s.log.Warn("outcome not counted", "err", err)
	}
}

// countUnknownApp counts a request naming an unknown public ID for the
// applications that allow its origin (Config.Outcomes), so their owners see
// a page of theirs with a wrong public ID.
func (s *Server) countUnknownApp(ctx context.Context, origin, op string) {
	o, err := likeness.NormalizeOrigin(origin)
	if s.cfg.Outcomes == nil || err != nil { // no Origin: nobody's site
		return
	}
	if err := s.cfg.Outcomes.RecordUnknownApp(ctx, o, op); err != nil {
		s.log.Warn("unknown application not counted", "err", err)
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
// own and, for the privacy page's authentication only (purpose "privacy"),
// this server's (PublicURL), where the self-service privacy page
// /privacy/{publicId} verifies a person. A page of this server never
// enrolls anyone into a site's application, nor gets a site's token.
func (s *Server) allowedOrigins(app *likeness.Application, op, purpose string) []string {
	u, err := url.Parse(s.cfg.PublicURL)
	if op != opAuthenticate || purpose != likeness.PurposePrivacy || err != nil || u.Host == "" {
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

// refuseBusy refuses (and counts) a widget session the server cannot serve
// now (its session slots or the engine's capacity, admitSession):
// TOO_MANY_REQUESTS (15) at once, with Retry-After saying when a slot is
// likely free.
func (s *Server) refuseBusy(c echo.Context, appID, op string, retry time.Duration) error {
	s.countRefusal(c.Request().Context(), appID, op, likeness.FioTooManyRequests)
	c.Response().Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())))
	return withFio(likeness.Errorf(likeness.ERATELIMIT, "Too many sessions; try again shortly."), likeness.FioTooManyRequests)
}

// padCooldown refuses (and counts) a session from an address cooling down
// after failed liveness checks (padlimit.go); nil when it may go on.
func (s *Server) padCooldown(ctx context.Context, appID, op string, ip netip.Addr) error {
	blocked, err := s.padLim.blocked(ctx, appID, ip)
	if err != nil {
		return err
	}
	if blocked {
		s.countRefusal(ctx, appID, op, likeness.FioTooManyRequests)
		return errPADCooldown
	}
	return nil
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
	h.Set("Access-Control-Expose-Headers", "Retry-After")
	if s.draining.Load() {
		return errDraining
	}
	app, _, op, err := s.admit(c)
	if err != nil {
		return err
	}
	if _, err := s.admitPurpose(c, op); err != nil {
		return err
	}
	// The widget opens no socket after a refused check: a refusal here is
	// counted here, once.
	ip := s.cfg.Network.ClientIP(c.Request())
	servable, retry := s.capacity.sessions()
	if !s.slots.free(app.ID, ip, servable) {
		return s.refuseBusy(c, app.ID, op, retry)
	}
	if err := s.padCooldown(c.Request().Context(), app.ID, op, ip); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]bool{"ok": true})
}

// handleWidgetWS upgrades to the session WebSocket after the same checks.
func (s *Server) handleWidgetWS(c echo.Context) error {
	if s.draining.Load() {
		return errDraining
	}
	app, st, op, err := s.admit(c)
	if err != nil {
		return err
	}
	purpose, err := s.admitPurpose(c, op)
	if err != nil {
		return err
	}
	ip := s.cfg.Network.ClientIP(c.Request())
	if err := s.padCooldown(c.Request().Context(), app.ID, op, ip); err != nil {
		return err
	}
	if !s.sessLim.allow(app.ID, ip, st) {
		s.countRefusal(c.Request().Context(), app.ID, op, likeness.FioTooManyRequests)
		return errTooManySessions
	}
	servable, retry := s.capacity.sessions()
	release, ok := s.slots.take(app.ID, ip, servable)
	if !ok {
		return s.refuseBusy(c, app.ID, op, retry)
	}
	up := websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   16 << 10,
		WriteBufferSize:  4 << 10,
		// Checked in admit already; checked again here so the upgrader never
		// accepts an origin the application does not allow.
		CheckOrigin: func(r *http.Request) bool {
			o := requestOrigin(r)
			return (o == "" && !st.RejectEmptyOrigin) || originAllowed(s.allowedOrigins(app, op, purpose), o)
		},
	}
	conn, err := up.Upgrade(c.Response(), c.Request(), nil)
	if err != nil {
		release()
		return nil // the upgrader has replied
	}
	// The HTTP server's read timeout is for requests; the session's phase
	// timers bound it from here, and closing the socket ends its reader.
	_ = conn.SetReadDeadline(time.Time{})
	// The Echo context is reused once this handler returns: the session
	// takes what it needs from it now.
	requestID := c.Response().Header().Get(echo.HeaderXRequestID)
	if !s.beginSession(op) { // draining or shutting down: no new session
		release()
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"), time.Now().Add(time.Second))
		conn.Close()
		return nil
	}
	go func() {
		defer s.endSession()
		defer release()
		ss := newSession(s, conn, app, st, op, requestID)
		ss.purpose = purpose
		ss.clientIP = ip
		ss.release = release
		ss.run()
	}()
	return nil
}

// privacyLink is the link shown under the consent notice: the
// application's own privacy policy when it set one, else its self-service
// privacy page on this server (an absolute URL: the notice is read on the
// application's site).
func privacyLink(st *likeness.Settings, publicURL, publicID string) string {
	if st != nil && st.PrivacyPolicyURL != "" {
		return st.PrivacyPolicyURL
	}
	return consent.PrivacyURL(publicURL, publicID)
}

// assetRoutes serves embedded files at the root under their own name (which
// revalidates: a strong ETag, 304 when unchanged) and under their
// content-hashed name (cached for a year, immutable), gzip-encoded for
// clients that accept it.
func assetRoutes(e *echo.Echo, names ...string) {
	for _, name := range names {
		a, err := static.Load(name)
		if err != nil {
			e.GET("/"+name, func(echo.Context) error { return likeness.Wrap(err, likeness.EINTERNAL, "Asset missing.") })
			continue
		}
		e.GET("/"+name, serveAsset(a, static.CacheRevalidate))
		e.HEAD("/"+name, serveAsset(a, static.CacheRevalidate))
		e.GET("/"+a.Hashed, serveAsset(a, static.CacheImmutable))
		e.HEAD("/"+a.Hashed, serveAsset(a, static.CacheImmutable))
	}
}

// serveAsset serves a to any site's page (the widget is loaded
// cross-origin). A module script (import … from '/fio.mjs') is fetched with
// CORS, so the reply allows every origin: it is public, and the request
// carries no credentials.
func serveAsset(a *static.Asset, cacheControl string) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
		c.Response().Header().Set("Access-Control-Allow-Origin", "*")
		a.Serve(c.Response(), c.Request(), cacheControl)
		return nil
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
	page = bytes.ReplaceAll(page, []byte("__PUBLIC_ID__"), []byte(html.EscapeString(s.cfg.DemoPublicID)))
	// The integration snippet names this server, as a site would write it.
	page = bytes.ReplaceAll(page, []byte("__SERVER_URL__"), []byte(html.EscapeString(s.cfg.PublicURL)))
	h := c.Response().Header()
	h.Set("Content-Security-Policy", demoCSP)
	h.Set("Permissions-Policy", likeness.PermissionsPolicyCamera)
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(http.StatusOK, page)
}
