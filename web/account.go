package web

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/templates"
)

// DeletionStore deletes organizations and accounts (store/sqlite orgs.go).
type DeletionStore interface {
	// ExportOrg returns the organization's data without biometrics or secrets.
	ExportOrg(ctx context.Context, orgID string) (*likeness.AccountExport, error)
	// DeleteOrg erases every face at once and disables the organization.
	// ENOTFOUND when it is already deleted.
	DeleteOrg(ctx context.Context, orgID string) (*likeness.OrgDeletion, error)
	// DeleteUser: EPRECONDITION while the account is a sole owner.
	DeleteUser(ctx context.Context, userID string) error
	CountFaces(ctx context.Context, appID string) (int, error)
}

// handleDeleteOrgPage offers the export and asks for the name. Owners only.
func (h *Handler) handleDeleteOrgPage(c echo.Context, m *likeness.Membership) error {
	return h.renderDeleteOrg(c, m, http.StatusOK, "", "")
}

func (h *Handler) renderDeleteOrg(c echo.Context, m *likeness.Membership, status int, typed, problem string) error {
	ctx := c.Request().Context()
	apps, err := h.store.OrgApps(ctx, m.Org.ID)
	if err != nil {
		return err
	}
	members, err := h.store.Members(ctx, m.Org.ID)
	if err != nil {
		return err
	}
	v := templates.DeleteOrgView{Chrome: h.chrome(c, "Delete "+m.Org.Name), Org: orgLink(m), Applications: len(apps),
		Members: len(members), Typed: typed}
	for _, a := range apps {
		n, err := h.store.CountFaces(ctx, a.ID)
		if err != nil {
			return err
		}
		v.Faces += n
	}
	v.Chrome.Error = problem
	return h.render(c, status, templates.DeleteOrgPage(v))
}

// exportName keeps an organization's name safe for a file name.
var exportName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// handleExportOrg downloads the organization's export as JSON; the
// download is audited. Owners only.
func (h *Handler) handleExportOrg(c echo.Context, m *likeness.Membership) error {
	ctx := c.Request().Context()
	x, err := h.store.ExportOrg(ctx, m.Org.ID)
	if err != nil {
		return err
	}
	if err := h.store.Audit(ctx, likeness.AuditEntry{OrgID: m.Org.ID, Action: "organization.exported", Target: m.Org.ID}); err != nil {
		return err
	}
	body, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return err
	}
	name := exportName.ReplaceAllString(m.Org.Name, "-")
	c.Response().Header().Set(echo.HeaderContentDisposition,
		`attachment; filename="likeness-export-`+name+`-`+h.now().UTC().Format("2006-01-02")+`.json"`)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSONBlob(http.StatusOK, body)
}

// handleDeleteOrg deletes the organization once its exact name is typed.
// Owners only.
func (h *Handler) handleDeleteOrg(c echo.Context, m *likeness.Membership) error {
	typed := c.FormValue("confirm")
	if !likeness.ConfirmOrgName(m.Org.Name, typed) {
		return h.renderDeleteOrg(c, m, http.StatusBadRequest, typed,
			"Type the organization's name exactly as shown to confirm. Nothing was deleted.")
	}
	d, err := h.store.DeleteOrg(c.Request().Context(), m.Org.ID)
	if err != nil {
		return err
	}
	h.log.Info("organization deleted", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
		"org", m.Org.ID, "faces", d.FacesErased)
	// An account left with no organization is disabled with it: signed out.
	if ms, err := h.store.Memberships(c.Request().Context(), m.UserID); err != nil || len(ms) > 0 {
		return redirectDone(c, "/console/apps", "org-deleted")
	}
	if err := h.endSession(c); err != nil {
		return err
	}
	return redirectDone(c, "/console/signin", "org-deleted")
}

// handleDeleteAccountPage shows what deleting one's own account does, or
// which organizations must be handed over first.
func (h *Handler) handleDeleteAccountPage(c echo.Context) error {
	return h.renderDeleteAccount(c, http.StatusOK, "")
}

func (h *Handler) renderDeleteAccount(c echo.Context, status int, problem string) error {
	ctx := c.Request().Context()
	s := currentSession(c)
	ms, err := h.store.Memberships(ctx, s.user.ID)
	if err != nil {
		return err
	}
	owners := map[string]int{}
	for _, m := range ms {
		if m.Role != likeness.OrgOwner {
			continue
		}
		members, err := h.store.Members(ctx, m.Org.ID)
		if err != nil {
			return err
		}
		for _, x := range members {
			if x.Role == likeness.OrgOwner {
				owners[m.Org.ID]++
			}
		}
	}
	v := templates.DeleteAccountView{Chrome: h.chrome(c, "Delete your account"), Email: s.user.Email}
	for _, o := range likeness.SoleOwnerOrgs(ms, owners) {
		v.SoleOwner = append(v.SoleOwner, templates.OrgLink{ID: o.ID, Name: o.Name, Role: likeness.OrgOwner})
	}
	v.Chrome.Error = problem
	return h.render(c, status, templates.DeleteAccountPage(v))
}

// handleDeleteAccount deletes the signed-in account after checking its
// password, and ends the session.
func (h *Handler) handleDeleteAccount(c echo.Context) error {
	ctx := c.Request().Context()
	s := currentSession(c)
	ip := h.cfg.ClientIP(c.Request())
	wait, err := h.limits.signInWait(ctx, s.user.Email, ip)
	if err != nil {
		return err
	}
	if wait > 0 {
		return h.renderDeleteAccount(c, http.StatusTooManyRequests, tooMany(wait))
	}
	ok, err := h.pw.check(ctx, s.user.PasswordHash, c.FormValue("password"))
	if err != nil && likeness.ErrorCode(err) == likeness.EUNAVAILABLE {
		return err
	}
	if !ok {
		if err := h.limits.signInFailed(ctx, s.user.Email, ip); err != nil {
			return err
		}
		return h.renderDeleteAccount(c, http.StatusUnauthorized, "The password is not right. Nothing was deleted.")
	}
	if err := h.store.DeleteUser(ctx, s.user.ID); err != nil {
		if status, ok := formError(err); ok {
			return h.renderDeleteAccount(c, status, likeness.ErrorMessage(err))
		}
		return err
	}
	if err := h.endSession(c); err != nil {
		return err
	}
	return redirectDone(c, "/console/signin", "account-deleted")
}

// endSession revokes the console session and clears its cookie.
func (h *Handler) endSession(c echo.Context) error {
	s := currentSession(c)
	until := time.Unix(s.claims.Auth, 0).Add(ConsoleSessionMax)
	if err := h.store.RevokeSession(c.Request().Context(), s.claims.SID, until); err != nil {
		return err
	}
	setCookie(c, consoleCookie, "", time.Time{}, h.now())
	return nil
}

// accountDone confirms the actions of account.go and support.go after
// their redirect (?done=key), like doneMessages: fixed texts only.
func accountDone(key string) (string, bool) {
	switch key {
	case "org-deleted":
		return "The organization was deleted: every face is erased, and its members can no longer open it.", true
	case "account-deleted":
		return "Your account was deleted.", true
	case "support-granted":
		return "Support access was granted.", true
	case "support-revoked":
		return "Support access was ended.", true
	}
	return "", false
}
