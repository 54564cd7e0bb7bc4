package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/templates"
)

// SupportStore keeps the support access grants (store/sqlite support.go).
type SupportStore interface {
	// GrantSupport: EINVALID outside 1 hour to 7 days.
	GrantSupport(ctx context.Context, orgID, userID string, d time.Duration) (*likeness.SupportGrant, error)
	// RevokeSupport: ENOTFOUND when no such grant is running.
	RevokeSupport(ctx context.Context, orgID, grantID, userID string) error
	SupportGrants(ctx context.Context, orgID string) ([]*likeness.SupportGrant, error)
	// ActiveSupportGrant: ENOTFOUND when none runs now.
	ActiveSupportGrant(ctx context.Context, orgID string) (*likeness.SupportGrant, error)
	// SupportOrgs returns the grants running now, one or more per organization.
	SupportOrgs(ctx context.Context) ([]*likeness.SupportGrant, error)
	Organization(ctx context.Context, orgID string) (*likeness.Organization, error)
}

// supportKey marks a request served under a support access grant.
const supportKey = "likeness.support"

// actionSupportView is the audit action of a page an operator opened.
const actionSupportView = "support.page_viewed"

// supportAccess is called when the signed-in account is not a member of
// orgID: an operator under the organization's running grant gets a
// read-only viewer's membership and the page view is audited; anyone else
// gets notFound, as if the organization did not exist.
func (h *Handler) supportAccess(c echo.Context, orgID string, notFound error) (*likeness.Membership, error) {
	s := currentSession(c)
	if s == nil || !s.user.Operator {
		return nil, notFound
	}
	ctx := c.Request().Context()
	g, err := h.store.ActiveSupportGrant(ctx, orgID)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if !likeness.SupportAllows(s.user, g, c.Request().Method, h.now()) {
		if g.Active(h.now()) {
			return nil, likeness.Errorf(likeness.EFORBIDDEN, "Support access is read-only.")
		}
		return nil, notFound
	}
	org, err := h.store.Organization(ctx, orgID)
	if err != nil {
		return nil, err
	}
	ctx = likeness.WithActor(ctx, "support:"+s.user.ID)
	c.SetRequest(c.Request().WithContext(ctx))
	raw, _ := json.Marshal(map[string]string{"path": c.Request().URL.Path, "operator": s.user.Email})
	if err := h.store.Audit(ctx, likeness.AuditEntry{OrgID: orgID, Action: actionSupportView, Target: g.ID, Details: raw}); err != nil {
		return nil, err // no page without its audit entry
	}
	c.Set(supportKey, g)
	return &likeness.Membership{Org: *org, UserID: s.user.ID, Email: s.user.Email, Role: likeness.OrgViewer}, nil
}

// underSupport reports whether this request is served under a grant.
func underSupport(c echo.Context) bool {
	_, ok := c.Get(supportKey).(*likeness.SupportGrant)
	return ok
}

// handleSupport shows an owner the grants and every page operators opened.
func (h *Handler) handleSupport(c echo.Context, m *likeness.Membership) error {
	return h.renderSupport(c, m, http.StatusOK, 24, "")
}

// supportUses is how many recent audit entries the support page searches
// for page views.
const supportUses = 2000

func (h *Handler) renderSupport(c echo.Context, m *likeness.Membership, status, hours int, problem string) error {
	ctx := c.Request().Context()
	grants, err := h.store.SupportGrants(ctx, m.Org.ID)
	if err != nil {
		return err
	}
	now := h.now()
	v := templates.SupportView{Chrome: h.chrome(c, "Support access to "+m.Org.Name), Org: orgLink(m), Hours: hours}
	for _, g := range grants {
		row := templates.SupportRow{ID: g.ID, GrantedBy: g.GrantedEmail, CreatedAt: g.CreatedAt, ExpiresAt: g.ExpiresAt,
			RevokedAt: g.RevokedAt, Status: "expired"}
		switch {
		case g.RevokedAt != nil:
			row.Status = "revoked"
		case g.Active(now):
			row.Status = "active"
			if v.Active == nil {
				r := row
				v.Active = &r
			}
		}
		v.Grants = append(v.Grants, row)
	}
	n, _, err := h.store.VerifyAudit(ctx, m.Org.ID)
	if err != nil {
		return err
	}
	entries, err := h.store.AuditEntries(ctx, m.Org.ID, max(0, int64(n)-supportUses), supportUses)
	if err != nil {
		return err
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Action != actionSupportView {
			continue
		}
		var d struct{ Path, Operator string }
		_ = json.Unmarshal(e.Details, &d)
		v.Uses = append(v.Uses, templates.SupportUse{At: e.At, Operator: d.Operator, Path: d.Path})
	}
	v.Chrome.Error = problem
	return h.render(c, status, templates.SupportPage(v))
}

// handleGrantSupport grants support access for 1 to 168 hours. Owners only.
func (h *Handler) handleGrantSupport(c echo.Context, m *likeness.Membership) error {
	hours, err := strconv.Atoi(c.FormValue("hours"))
	if err != nil {
		return h.renderSupport(c, m, http.StatusBadRequest, 24, likeness.ErrorMessage(likeness.CheckSupportDuration(0)))
	}
	if _, err := h.store.GrantSupport(c.Request().Context(), m.Org.ID, m.UserID, time.Duration(hours)*time.Hour); err != nil {
		if status, ok := formError(err); ok {
			return h.renderSupport(c, m, status, hours, likeness.ErrorMessage(err))
		}
		return err
	}
	return redirectDone(c, templates.OrgPath(m.Org.ID, "/support"), "support-granted")
}

// handleRevokeSupport ends a running grant at once. Owners only.
func (h *Handler) handleRevokeSupport(c echo.Context, m *likeness.Membership) error {
	if err := h.store.RevokeSupport(c.Request().Context(), m.Org.ID, c.Param("gid"), m.UserID); err != nil {
		return err
	}
	return redirectDone(c, templates.OrgPath(m.Org.ID, "/support"), "support-revoked")
}

// handleSupportList lists, for operators only, the organizations that
// grant support access now; anyone else gets 404.
func (h *Handler) handleSupportList(c echo.Context) error {
	s := currentSession(c)
	if !s.user.Operator {
		return errNotFound
	}
	ctx := c.Request().Context()
	grants, err := h.store.SupportOrgs(ctx)
	if err != nil {
		return err
	}
	v := templates.SupportListView{Chrome: h.chrome(c, "Support access")}
	seen := map[string]bool{}
	for _, g := range grants {
		if seen[g.OrgID] {
			continue
		}
		seen[g.OrgID] = true
		o := templates.SupportOrg{ID: g.OrgID, Name: g.OrgName, ExpiresAt: g.ExpiresAt}
		apps, err := h.store.OrgApps(ctx, g.OrgID)
		if err != nil {
			return err
		}
		for _, a := range apps {
			o.Apps = append(o.Apps, templates.SupportApp{PublicID: a.PublicID, Name: a.Name})
		}
		v.Orgs = append(v.Orgs, o)
	}
	return h.render(c, http.StatusOK, templates.SupportListPage(v))
}
