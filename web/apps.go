package web

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/consent"
	"github.com/likeness/likeness/identify"
	"github.com/likeness/likeness/templates"
)

// appCtx is an application page's request: the application and the
// account's membership of its organization.
type appCtx struct {
	app *likeness.Application
	m   *likeness.Membership
	s   *consoleSession
}

type appHandler func(c echo.Context, a *appCtx) error

// roleRank orders roles: a higher rank may do everything a lower one may.
func roleRank(role string) int {
	switch role {
	case likeness.OrgOwner:
		return 3
	case likeness.OrgAdmin:
		return 2
	case likeness.OrgViewer:
		return 1
	}
	return 0
}

var errAppNotFound = likeness.Errorf(likeness.ENOTFOUND, "Application not found.")

// withApp loads the application named in the path and checks that the
// account is a member of its organization (else 404: another organization's
// application does not exist for it) with at least role minRole (else 403).
func (h *Handler) withApp(minRole string, fn appHandler) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		s := currentSession(c)
		app, err := h.store.AppByPublicID(ctx, c.Param("app"))
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			return errAppNotFound
		}
		if err != nil {
			return err
		}
		m, err := h.store.Membership(ctx, app.OrgID, s.user.ID)
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			m, err = h.supportAccess(c, app.OrgID, errAppNotFound) // support.go
		}
		if err != nil {
			return err
		}
		if roleRank(m.Role) < roleRank(minRole) {
			return likeness.Errorf(likeness.EFORBIDDEN, "Your role in %s (%s) does not allow this.", m.Org.Name, m.Role)
		}
		return fn(c, &appCtx{app: app, m: m, s: s})
	}
}

// header describes the application for its pages.
func (a *appCtx) header(tab string) templates.AppHeader {
	return templates.AppHeader{PublicID: a.app.PublicID, Name: a.app.Name, OrgID: a.app.OrgID, OrgName: a.m.Org.Name,
		Role: a.m.Role, Tab: tab}
}

// handleApps lists the account's organizations and applications.
func (h *Handler) handleApps(c echo.Context) error {
	// ?org= preselects the organization the person came from.
	return h.renderApps(c, http.StatusOK, templates.AppForm{OrgID: c.QueryParam("org")}, "")
}

func (h *Handler) renderApps(c echo.Context, status int, form templates.AppForm, problem string) error {
	ctx := c.Request().Context()
	s := currentSession(c)
	ms, err := h.store.Memberships(ctx, s.user.ID)
	if err != nil {
		return err
	}
	v := templates.AppsView{Chrome: h.chrome(c, "Applications"), Form: form}
	v.Chrome.Error = problem
	for _, m := range ms {
		org := templates.OrgLink{ID: m.Org.ID, Name: m.Org.Name, Role: m.Role}
		apps, err := h.store.OrgApps(ctx, m.Org.ID)
		if err != nil {
			return err
		}
		g := templates.AppGroup{Org: org}
		for _, a := range apps {
			col, err := h.store.Collection(ctx, a.ID)
			if err != nil {
				return err
			}
			g.Apps = append(g.Apps, templates.AppRow{PublicID: a.PublicID, Name: a.Name, Faces: col.FaceCount,
				Origins: len(a.Origins), CreatedAt: a.CreatedAt})
		}
		v.Groups = append(v.Groups, g)
		if roleRank(m.Role) >= roleRank(likeness.OrgAdmin) {
			v.CreateOrgs = append(v.CreateOrgs, org)
		}
	}
	return h.render(c, status, templates.AppsPage(v))
}

// splitList splits a textarea of origins (or countries) on lines, commas and
// spaces.
func splitList(s string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' || r == '\t' }) {
		out = append(out, f)
	}
	return out
}

// handleCreateApp creates an application in one of the account's
// organizations and redirects to its overview, which shows its first API
// key once.
func (h *Handler) handleCreateApp(c echo.Context) error {
	ctx := c.Request().Context()
	s := currentSession(c)
	form := templates.AppForm{OrgID: c.FormValue("org"), Name: c.FormValue("name"), Origins: c.FormValue("origins")}
	m, err := h.store.Membership(ctx, form.OrgID, s.user.ID)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return likeness.Errorf(likeness.ENOTFOUND, "Organization not found.")
	}
	if err != nil {
		return err
	}
	if roleRank(m.Role) < roleRank(likeness.OrgAdmin) {
		return likeness.Errorf(likeness.EFORBIDDEN, "Your role in %s (%s) does not allow creating applications.", m.Org.Name, m.Role)
	}
	if len(splitList(form.Origins)) == 0 {
		return h.renderApps(c, http.StatusBadRequest, form, likeness.ErrorMessage(errNoOrigin))
	}
	app, sec, err := h.store.CreateApp(ctx, likeness.AppCreate{OrgID: m.Org.ID, Name: form.Name, Origins: splitList(form.Origins)})
	if err != nil {
		if status, ok := formError(err); ok {
			return h.renderApps(c, status, form, likeness.ErrorMessage(err))
		}
		return err
	}
	// POST/redirect/GET: the key travels to the overview in a cookie that
	// it shows once (once.go), so a reload neither creates another
	// application nor shows the key again.
	if err := h.setOnce(c, app.PublicID, sec.APIKey); err != nil {
		return err
	}
	return redirectDone(c, templates.AppPath(app.PublicID, ""), "created")
}

func (h *Handler) appView(c echo.Context, a *appCtx) (*templates.AppView, error) {
	col, err := h.store.Collection(c.Request().Context(), a.app.ID)
	if err != nil {
		return nil, err
	}
	v := &templates.AppView{Chrome: h.chrome(c, a.app.Name), App: a.header("overview"), ServerURL: h.issuer,
		PrivacyURL: h.issuer + consent.PrivacyPath(a.app.PublicID), Origins: strings.Join(a.app.Origins, "\n"),
		OriginList: a.app.Origins, StoreImages: col.StoreImages, Faces: col.FaceCount, CollectionID: col.ID,
		CreatedAt: a.app.CreatedAt}
	if col.RetentionDays != nil {
		v.RetentionDays = strconv.Itoa(*col.RetentionDays)
	}
	// Sites refused for their origin lately: usually a site of the owner's
	// that is missing from the list.
	since := h.now().UTC().AddDate(0, 0, -(refusedOriginDays - 1))
	counts, err := h.store.Outcomes(c.Request().Context(), a.app.ID, since)
	if err != nil {
		return nil, err
	}
	for _, oc := range counts {
		if oc.Outcome == likeness.FioForbiddenOrigin.String() || oc.Outcome == likeness.FioEmptyOrigin.String() {
			v.RefusedOrigins += oc.Count
		}
	}
	v.RefusedDays = refusedOriginDays
	return v, nil
}

// refusedOriginDays is the period over which the overview counts sessions
// refused for their origin (16 and 17).
const refusedOriginDays = 7

func (h *Handler) handleApp(c echo.Context, a *appCtx) error {
	v, err := h.appView(c, a)
	if err != nil {
		return err
	}
	v.NewAPIKey = h.takeOnce(c, a.app.PublicID)
	return h.render(c, http.StatusOK, templates.AppPage(*v))
}

// appFormError shows the overview again with a form's problem, or returns
// a failure.
func (h *Handler) appFormError(c echo.Context, a *appCtx, err error, edit func(*templates.AppView)) error {
	status, ok := formError(err)
	if !ok {
		return err
	}
	v, verr := h.appView(c, a)
	if verr != nil {
		return verr
	}
	if edit != nil {
		edit(v)
	}
	v.Chrome.Error = likeness.ErrorMessage(err)
	return h.render(c, status, templates.AppPage(*v))
}

func redirectDone(c echo.Context, path, done string) error {
	return c.Redirect(http.StatusSeeOther, path+"?done="+done)
}

func (h *Handler) handleRename(c echo.Context, a *appCtx) error {
	if _, err := h.store.RenameApp(c.Request().Context(), a.app.ID, c.FormValue("name")); err != nil {
		return h.appFormError(c, a, err, nil)
	}
	return redirectDone(c, templates.AppPath(a.app.PublicID, ""), "renamed")
}

// errNoOrigin refuses an application without an allowed origin: the
// widget would refuse every site (17 FORBIDDDEN_ORIGIN).
var errNoOrigin = likeness.Errorf(likeness.EINVALID, "Add at least one allowed origin, such as https://shop.example: the widget works only on the sites listed.")

func (h *Handler) handleOrigins(c echo.Context, a *appCtx) error {
	raw := c.FormValue("origins")
	if len(splitList(raw)) == 0 {
		return h.appFormError(c, a, errNoOrigin, func(v *templates.AppView) { v.Origins = raw })
	}
	if _, err := h.store.UpdateOrigins(c.Request().Context(), a.app.ID, splitList(raw)); err != nil {
		return h.appFormError(c, a, err, func(v *templates.AppView) { v.Origins = raw })
	}
	return redirectDone(c, templates.AppPath(a.app.PublicID, ""), "origins")
}

func (h *Handler) handleCollection(c echo.Context, a *appCtx) error {
	raw := strings.TrimSpace(c.FormValue("retention"))
	store := c.FormValue("storeImages") == "on"
	p := likeness.CollectionPatch{StoreImages: &store}
	if raw == "" {
		p.ClearRetention = true
	} else {
		days, err := strconv.Atoi(raw)
		if err != nil {
			return h.appFormError(c, a, likeness.Errorf(likeness.EINVALID, "Retention must be a whole number of days."),
				func(v *templates.AppView) { v.RetentionDays = raw })
		}
		p.RetentionDays = &days
	}
	if _, err := h.store.UpdateCollection(c.Request().Context(), a.app.ID, p); err != nil {
		return h.appFormError(c, a, err, func(v *templates.AppView) { v.RetentionDays = raw })
	}
	return redirectDone(c, templates.AppPath(a.app.PublicID, ""), "collection")
}

// handleDeleteApp deletes the application once its name is typed exactly.
func (h *Handler) handleDeleteApp(c echo.Context, a *appCtx) error {
	if strings.TrimSpace(c.FormValue("confirm")) != a.app.Name {
		return h.appFormError(c, a, likeness.Errorf(likeness.EINVALID,
			"Type the application's name exactly to delete it. Nothing was deleted."), nil)
	}
	if err := h.store.DeleteApp(c.Request().Context(), a.app.ID); err != nil {
		return err
	}
	return redirectDone(c, "/console/apps", "deleted")
}

// handleConsent shows the notice editor and every version.
func (h *Handler) handleConsent(c echo.Context, a *appCtx) error {
	return h.renderConsent(c, a, http.StatusOK, nil, "")
}

func (h *Handler) renderConsent(c echo.Context, a *appCtx, status int, form *templates.NoticeForm, problem string) error {
	ctx := c.Request().Context()
	notices, err := h.store.Notices(ctx, a.app.ID)
	if err != nil {
		return err
	}
	v := templates.ConsentView{Chrome: h.chrome(c, "Consent notice"), App: a.header("consent"), Locales: consent.Locales()}
	v.Chrome.Error = problem
	seen := map[string]bool{}
	for _, n := range notices {
		row := templates.NoticeRow{Locale: n.Locale, Version: n.Version, Title: n.Title, Text: n.Text, SHA256: n.SHA256,
			CreatedAt: n.CreatedAt}
		v.Versions = append(v.Versions, row)
		if !seen[n.Locale] { // newest first per locale
			seen[n.Locale] = true
			v.Current = append(v.Current, row)
			if !slices.Contains(v.Locales, n.Locale) {
				v.Locales = append(v.Locales, n.Locale)
			}
		}
	}
	switch {
	case form != nil:
		v.Form = *form
	case len(v.Current) > 0:
		n := v.Current[0]
		for _, cur := range v.Current {
			if cur.Locale == consent.DefaultLocale {
				n = cur
			}
		}
		v.Form = templates.NoticeForm{Locale: n.Locale, Title: n.Title, Text: n.Text}
	default:
		title, text, _ := consent.Default(consent.DefaultLocale)
		v.Form = templates.NoticeForm{Locale: consent.DefaultLocale, Title: consent.Render(title, a.app, h.issuer),
			Text: consent.Render(text, a.app, h.issuer)}
	}
	return h.render(c, status, templates.ConsentPage(v))
}

// handleSetNotice stores a new notice version (when the text changed) and
// audits it.
func (h *Handler) handleSetNotice(c echo.Context, a *appCtx) error {
	ctx := c.Request().Context()
	form := templates.NoticeForm{Locale: c.FormValue("locale"), Title: c.FormValue("title"), Text: c.FormValue("text")}
	before, err := h.store.Notices(ctx, a.app.ID)
	if err != nil {
		return err
	}
	n, err := h.cfg.Notices.SetNotice(ctx, a.app, form.Locale, form.Title, form.Text)
	if err != nil {
		if status, ok := formError(err); ok {
			return h.renderConsent(c, a, status, &form, likeness.ErrorMessage(err))
		}
		return err
	}
	for _, b := range before {
		if b.Locale == n.Locale && b.Version == n.Version {
			return redirectDone(c, templates.AppPath(a.app.PublicID, "/consent"), "notice-same")
		}
	}
	if err := h.store.Audit(ctx, likeness.AuditEntry{Action: "notice.created", AppID: a.app.ID,
		Target:  n.Locale + "/v" + strconv.Itoa(n.Version),
		Details: jsonDetails(map[string]any{"locale": n.Locale, "version": n.Version, "sha256": n.SHA256})}); err != nil {
		return err
	}
	return redirectDone(c, templates.AppPath(a.app.PublicID, "/consent"), "notice")
}

// handleSecurity shows the security settings.
func (h *Handler) handleSecurity(c echo.Context, a *appCtx) error {
	st, err := h.store.Settings(c.Request().Context(), a.app.ID)
	if err != nil {
		return err
	}
	return h.renderSecurity(c, a, http.StatusOK, *st, "")
}

func (h *Handler) renderSecurity(c echo.Context, a *appCtx, status int, st likeness.Settings, problem string) error {
	n, err := h.store.GallerySize(c.Request().Context(), a.app.ID)
	if err != nil {
		return err
	}
	est := identify.Estimated(n, identify.PolicyOf(&st))
	v := templates.SecurityView{Chrome: h.chrome(c, "Security settings"), App: a.header("security"), Settings: st,
		Countries: strings.Join(st.AllowedCountries, ", "),
		Identification: templates.IdentificationView{Faces: n, FalseAcceptRate: oneIn(est.FaceOnlyFalseAcceptRate),
			SecondFactorShare: fmt.Sprintf("%.0f%%", 100*est.SecondFactorShare),
			Required:          est.SecondFactorRequired, Available: est.SecondFactorAvailable}}
	v.Chrome.Error = problem
	return h.render(c, status, templates.SecurityPage(v))
}

// handleSetSecurity validates and saves every security setting.
func (h *Handler) handleSetSecurity(c echo.Context, a *appCtx) error {
	on := func(name string) bool { return c.FormValue(name) == "on" }
	var bad string
	num := func(name string) int {
		n, err := strconv.Atoi(strings.TrimSpace(c.FormValue(name)))
		if err != nil && bad == "" {
			bad = name
		}
		return n
	}
	st := likeness.Settings{
		RejectEmptyOrigin: on("rejectEmptyOrigin"), AllowedCountries: splitList(c.FormValue("allowedCountries")),
		PIN: c.FormValue("pin"), PINMinLength: num("pinMinLength"), RejectWeakPINs: on("rejectWeakPins"),
		UniquePINs: on("uniquePins"), AlwaysAskPIN: on("alwaysAskPin"), PreventDuplicates: on("preventDuplicates"),
		PreventMinors: on("preventMinors"), MinimumAge: num("minimumAge"), Liveness: c.FormValue("liveness"),
		SessionsPerIPPerMinute: num("sessionsPerIpPerMinute"), SessionsPerAppPerMinute: num("sessionsPerAppPerMinute"),
		MaxFailedAuth: num("maxFailedAuth"), LockoutMinutes: num("lockoutMinutes"),
		PrivacyPolicyURL: strings.TrimSpace(c.FormValue("privacyPolicyUrl")),
	}
	if v := strings.TrimSpace(c.FormValue("maxFalseAcceptRate")); v != "" {
		far, err := strconv.ParseFloat(v, 64)
		if err != nil && bad == "" {
			bad = "maxFalseAcceptRate"
		}
		st.MaxFalseAcceptRate = far
	} else { // a form from before the setting existed keeps the current target
		cur, err := h.store.Settings(c.Request().Context(), a.app.ID)
		if err != nil {
			return err
		}
		st.MaxFalseAcceptRate = cur.MaxFalseAcceptRate
	}
	if bad != "" {
		return h.renderSecurity(c, a, http.StatusBadRequest, st, bad+" must be a number.")
	}
	if _, err := h.store.UpdateSettings(c.Request().Context(), a.app.ID, st); err != nil {
		if status, ok := formError(err); ok {
			return h.renderSecurity(c, a, status, st, likeness.ErrorMessage(err))
		}
		return err
	}
	return redirectDone(c, templates.AppPath(a.app.PublicID, "/security"), "security")
}

// oneIn formats a rate as "1 in N" ("none" for 0).
func oneIn(r float64) string {
	if r <= 0 {
		return "no (face-only login is off at this size)"
	}
	n := math.Round(1 / r)
	s := strconv.FormatFloat(n, 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return "1 in " + s
}
