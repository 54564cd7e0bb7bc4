package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/templates"
)

// privacyFailed is the one message of every failed verification: an
// unknown face, a bad or expired token, another application's token… A
// person who is not enrolled learns nothing about who is.
const privacyFailed = "We could not verify you. If you are enrolled with this site, try again in good light, " +
	"looking straight at the camera."

// privacyReplayed refuses a result token presented a second time.
const privacyReplayed = "This verification was already used. Verify again to continue."

// privacyClaims are a privacy page token's claims (server/token.go).
type privacyClaims struct {
	Op       string `json:"op"`
	Purpose  string `json:"purpose"`
	Liveness string `json:"liveness"`
	jwt.RegisteredClaims
}

var (
	errTokenInvalid  = errors.New("web: result token invalid")
	errTokenReplayed = errors.New("web: result token replayed")
)

// privacyApp loads the application of a privacy page. ENOTFOUND.
func (h *Handler) privacyApp(c echo.Context) (*likeness.Application, error) {
	app, err := h.store.AppByPublicID(c.Request().Context(), c.Param("pid"))
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "There is no privacy page here.")
	}
	return app, err
}

// privacySession returns the verified Facial ID of the request for app, or
// nil: a valid cookie for this application, not ended, whose face exists.
func (h *Handler) privacySession(c echo.Context, app *likeness.Application) (*sessionClaims, *likeness.Face, error) {
	ck, err := c.Cookie(privacyCookie)
	if err != nil {
		return nil, nil, nil
	}
	cl, err := h.parseSession(ck.Value, h.privacyKey, privacyAudience+app.PublicID)
	if err != nil {
		return nil, nil, nil
	}
	ctx := c.Request().Context()
	revoked, err := h.store.SessionRevoked(ctx, cl.SID)
	if err != nil || revoked {
		return nil, nil, err
	}
	f, err := h.store.Face(ctx, app.ID, cl.Subject)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return cl, f, nil
}

// handlePrivacy shows a verified person their data, or else the page that
// verifies them with the widget.
func (h *Handler) handlePrivacy(c echo.Context) error {
	app, err := h.privacyApp(c)
	if err != nil {
		return err
	}
	cl, f, err := h.privacySession(c, app)
	if err != nil {
		return err
	}
	if f == nil {
		return h.renderPrivacyStart(c, app, http.StatusOK, "")
	}
	return h.renderPrivacyMe(c, app, cl, f)
}

func (h *Handler) renderPrivacyStart(c echo.Context, app *likeness.Application, status int, failed string) error {
	// The start page runs the widget: it may use the camera of this origin.
	c.Response().Header().Set("Permissions-Policy", likeness.PermissionsPolicyCamera)
	v := templates.PrivacyView{Chrome: h.chrome(c, "Your data with "+app.Name), PreCSRF: h.preToken(c),
		AppName: app.Name, PublicID: app.PublicID, Failed: failed}
	return h.render(c, status, templates.PrivacyPage(v))
}

func (h *Handler) renderPrivacyMe(c echo.Context, app *likeness.Application, cl *sessionClaims, f *likeness.Face) error {
	ctx := c.Request().Context()
	x, err := h.store.FaceExtras(ctx, app.ID, f.FacialID)
	if err != nil {
		return err
	}
	col, err := h.store.Collection(ctx, app.ID)
	if err != nil {
		return err
	}
	v := templates.PrivacyMeView{Chrome: h.chrome(c, "Your data with "+app.Name), CSRF: h.formToken("privacy", cl.SID),
		AppName: app.Name, PublicID: app.PublicID, FacialID: f.FacialID, EnrolledAt: f.EnrolledAt, LastAuthAt: f.LastAuthAt,
		StoreImages: col.StoreImages, Images: x.Images, HasPIN: x.HasPIN, HasPayload: len(f.Payload) > 0,
		ExpiresAt: cl.ExpiresAt.Time}
	if col.RetentionDays != nil {
		v.RetentionDays = *col.RetentionDays
	}
	rec, notice, err := h.consentOf(c, app, f)
	if err != nil {
		return err
	}
	if rec != nil {
		v.ConsentKind, v.ConsentAt, v.NoticeVersion = rec.Kind, rec.CreatedAt, rec.NoticeVersion
	}
	if notice != nil {
		v.NoticeTitle, v.NoticeText = notice.Title, notice.Text
	}
	return h.render(c, http.StatusOK, templates.PrivacyMePage(v))
}

// consentOf returns the face's consent record and the notice it names, when
// they exist.
func (h *Handler) consentOf(c echo.Context, app *likeness.Application, f *likeness.Face) (*likeness.ConsentRecord, *likeness.Notice, error) {
	ctx := c.Request().Context()
	rec, err := h.store.ConsentRecord(ctx, app.ID, f.ConsentID)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if rec.NoticeVersion <= 0 || rec.Locale == "" {
		return rec, nil, nil
	}
	n, err := h.store.Notice(ctx, app.ID, rec.Locale, rec.NoticeVersion)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return rec, nil, nil
	}
	return rec, n, err
}

// verifyResult checks a privacy page token: ES256 with one of the server's
// current keys, our issuer, purpose "privacy" and this privacy page as
// audience (so a site's result token, whose audience is the public ID, is
// refused), an authentication checked with strict liveness (the server
// forces it for the privacy purpose), at most likeness.PrivacyTokenTTL
// long, not expired, and never accepted before (its jti is kept until it
// expires). It returns the Facial ID.
func (h *Handler) verifyResult(c echo.Context, app *likeness.Application, token string) (string, error) {
	ctx := c.Request().Context()
	keys, err := h.store.VerificationKeys(ctx, h.now().Add(-likeness.KeyGrace))
	if err != nil {
		return "", err
	}
	var cl privacyClaims
	_, err = jwt.ParseWithClaims(token, &cl, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		for _, k := range keys {
			if k.KID == kid {
				return k.Key, nil
			}
		}
		return nil, errTokenInvalid
	}, jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}), jwt.WithIssuer(h.issuer),
		jwt.WithAudience(likeness.PrivacyAudience(h.issuer, app.PublicID)), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithTimeFunc(h.now))
	if err != nil || cl.Purpose != likeness.PurposePrivacy || cl.Op != "authenticate" || cl.Liveness != likeness.LivenessStrict ||
		cl.Subject == "" || cl.ID == "" || cl.IssuedAt == nil || cl.ExpiresAt.Sub(cl.IssuedAt.Time) > likeness.PrivacyTokenTTL {
		return "", errTokenInvalid
	}
	if err := h.store.UseToken(ctx, cl.ID, cl.ExpiresAt.Time); err != nil {
		if likeness.ErrorCode(err) == likeness.ECONFLICT {
			return "", errTokenReplayed
		}
		if likeness.ErrorCode(err) == likeness.EINVALID {
			return "", errTokenInvalid
		}
		return "", err
	}
	return cl.Subject, nil
}

// handlePrivacySession turns a widget result token into a short privacy
// session bound to the Facial ID.
func (h *Handler) handlePrivacySession(c echo.Context) error {
	app, err := h.privacyApp(c)
	if err != nil {
		return err
	}
	ip := h.cfg.ClientIP(c.Request())
	wait, err := h.limits.privacy.Wait(c.Request().Context(), ip)
	if err != nil {
		return err
	}
	if wait > 0 {
		return h.renderPrivacyStart(c, app, http.StatusTooManyRequests, tooManyPrivacy)
	}
	facialID, err := h.verifyResult(c, app, c.FormValue("token"))
	switch {
	case errors.Is(err, errTokenReplayed):
		if _, err := h.limits.privacy.Fail(c.Request().Context(), ip); err != nil {
			return err
		}
		return h.renderPrivacyStart(c, app, http.StatusConflict, privacyReplayed)
	case errors.Is(err, errTokenInvalid):
		if _, err := h.limits.privacy.Fail(c.Request().Context(), ip); err != nil {
			return err
		}
		return h.renderPrivacyStart(c, app, http.StatusUnauthorized, privacyFailed)
	case err != nil:
		return err
	}
	if _, err := h.store.Face(c.Request().Context(), app.ID, facialID); err != nil {
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			return h.renderPrivacyStart(c, app, http.StatusUnauthorized, privacyFailed)
		}
		return err
	}
	now := h.now()
	cl := sessionClaims{SID: newID(), RegisteredClaims: jwt.RegisteredClaims{Subject: facialID}}
	v, exp, err := h.issueSession(h.privacyKey, privacyAudience+app.PublicID, cl, PrivacySessionTTL, time.Time{})
	if err != nil {
		return err
	}
	setCookie(c, privacyCookie, v, exp, now)
	return c.Redirect(http.StatusSeeOther, "/privacy/"+app.PublicID)
}

const tooManyPrivacy = "Too many attempts. Wait a few minutes, then try again."

// requirePrivacy returns the verified Facial ID, or sends the person back
// to verify.
func (h *Handler) requirePrivacy(c echo.Context) (*likeness.Application, *sessionClaims, *likeness.Face, error) {
	app, err := h.privacyApp(c)
	if err != nil {
		return nil, nil, nil, err
	}
	cl, f, err := h.privacySession(c, app)
	if err != nil {
		return nil, nil, nil, err
	}
	if f == nil {
		return app, nil, nil, nil
	}
	if c.Request().Method == http.MethodPost && !h.formTokenOK(c, "privacy", cl.SID) {
		return nil, nil, nil, errCSRF
	}
	return app, cl, f, nil
}

// privacyExport is the JSON a person downloads about themselves.
type privacyExport struct {
	Application struct {
		Name     string `json:"name"`
		PublicID string `json:"publicId"`
	} `json:"application"`
	FacialID     string          `json:"facialId"`
	ExternalID   string          `json:"externalId,omitempty"`
	Payload      json.RawMessage `json:"payload,omitempty"`
	EnrolledAt   time.Time       `json:"enrolledAt"`
	LastAuthAt   *time.Time      `json:"lastAuthenticatedAt,omitempty"`
	PINSet       bool            `json:"pinSet"`
	ImagesStored int             `json:"imagesStored"`
	Consent      *privacyConsent `json:"consent,omitempty"`
	Retention    struct {
		Days *int   `json:"days"`
		Note string `json:"note"`
	} `json:"retention"`
	Template   string    `json:"template"`
	ExportedAt time.Time `json:"exportedAt"`
}

type privacyConsent struct {
	Kind          string    `json:"kind"`
	RecordedAt    time.Time `json:"recordedAt"`
	NoticeVersion int       `json:"noticeVersion,omitempty"`
	NoticeLocale  string    `json:"noticeLocale,omitempty"`
	NoticeSHA256  string    `json:"noticeSha256,omitempty"`
	NoticeTitle   string    `json:"noticeTitle,omitempty"`
	NoticeText    string    `json:"noticeText,omitempty"`
}

// handlePrivacyExport sends the person's data as a JSON download, and
// audits it.
func (h *Handler) handlePrivacyExport(c echo.Context) error {
	app, _, f, err := h.requirePrivacy(c)
	if err != nil {
		return err
	}
	if f == nil {
		return c.Redirect(http.StatusSeeOther, "/privacy/"+app.PublicID+"?done=privacy-again")
	}
	ctx := c.Request().Context()
	x, err := h.store.FaceExtras(ctx, app.ID, f.FacialID)
	if err != nil {
		return err
	}
	col, err := h.store.Collection(ctx, app.ID)
	if err != nil {
		return err
	}
	var out privacyExport
	out.Application.Name, out.Application.PublicID = app.Name, app.PublicID
	out.FacialID, out.ExternalID, out.Payload = f.FacialID, f.ExternalID, f.Payload
	out.EnrolledAt, out.LastAuthAt, out.PINSet, out.ImagesStored = f.EnrolledAt, f.LastAuthAt, x.HasPIN, x.Images
	out.Retention.Days = col.RetentionDays
	if col.RetentionDays == nil {
		out.Retention.Note = "Kept until you or the site erase it."
	} else {
		out.Retention.Note = "Erased automatically this many days after enrollment."
	}
	out.Template = "Not included: an encrypted list of numbers computed from your face, meaningful only to this server."
	out.ExportedAt = h.now().UTC()
	rec, n, err := h.consentOf(c, app, f)
	if err != nil {
		return err
	}
	if rec != nil {
		out.Consent = &privacyConsent{Kind: rec.Kind, RecordedAt: rec.CreatedAt, NoticeVersion: rec.NoticeVersion,
			NoticeLocale: rec.Locale, NoticeSHA256: rec.NoticeSHA256}
		if n != nil {
			out.Consent.NoticeTitle, out.Consent.NoticeText = n.Title, n.Text
		}
	}
	actx := likeness.WithActor(ctx, "self_service:"+f.FacialID)
	if err := h.store.Audit(actx, likeness.AuditEntry{Action: "facialid.exported", AppID: app.ID, Target: f.FacialID}); err != nil {
		return err
	}
	body, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="my-facial-id.json"`)
	return c.Blob(http.StatusOK, "application/json; charset=utf-8", body)
}

// handlePrivacyDelete erases the person's Facial ID (facialid.deleted with
// reason self_service, audited by the store) and ends the session.
func (h *Handler) handlePrivacyDelete(c echo.Context) error {
	app, cl, f, err := h.requirePrivacy(c)
	if err != nil {
		return err
	}
	if f == nil {
		return c.Redirect(http.StatusSeeOther, "/privacy/"+app.PublicID+"?done=privacy-again")
	}
	if c.FormValue("confirm") != "yes" {
		return likeness.Errorf(likeness.EINVALID, "Tick the box to confirm. Nothing was erased.")
	}
	ctx := likeness.WithActor(c.Request().Context(), "self_service:"+f.FacialID)
	if err := h.store.DeleteFace(ctx, app.ID, f.FacialID, likeness.ReasonSelfService); err != nil {
		return err
	}
	// The session opens nothing once the face is gone; recording its end
	// may fail on a full disk, which must not hide a completed erasure.
	if err := h.store.RevokeSession(ctx, cl.SID, cl.ExpiresAt.Time); err != nil {
		h.log.Warn("privacy session revocation after erasure", "err", err)
	}
	setCookie(c, privacyCookie, "", time.Time{}, h.now())
	v := templates.PrivacyDoneView{Chrome: h.chrome(c, "Your Facial ID was erased"), AppName: app.Name}
	return h.render(c, http.StatusOK, templates.PrivacyDonePage(v))
}

// handlePrivacySignOut ends the privacy session.
func (h *Handler) handlePrivacySignOut(c echo.Context) error {
	app, cl, f, err := h.requirePrivacy(c)
	if err != nil {
		return err
	}
	if f != nil {
		if err := h.store.RevokeSession(c.Request().Context(), cl.SID, cl.ExpiresAt.Time); err != nil {
			return err
		}
	}
	setCookie(c, privacyCookie, "", time.Time{}, h.now())
	return c.Redirect(http.StatusSeeOther, "/privacy/"+app.PublicID+"?done=privacy-out")
}
