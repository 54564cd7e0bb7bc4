package web

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/templates"
)

type orgHandler func(c echo.Context, m *likeness.Membership) error

var errOrgNotFound = likeness.Errorf(likeness.ENOTFOUND, "Organization not found.")

// withOrg checks that the account is a member of the organization in the
// path (else 404) with at least role minRole (else 403).
func (h *Handler) withOrg(minRole string, fn orgHandler) echo.HandlerFunc {
	return func(c echo.Context) error {
		s := currentSession(c)
		m, err := h.store.Membership(c.Request().Context(), c.Param("org"), s.user.ID)
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			m, err = h.supportAccess(c, c.Param("org"), errOrgNotFound) // support.go
		}
		if err != nil {
			return err
		}
		if roleRank(m.Role) < roleRank(minRole) {
			if minRole == likeness.OrgOwner {
				return likeness.Errorf(likeness.EFORBIDDEN, "Only owners of %s can do this.", m.Org.Name)
			}
			return likeness.Errorf(likeness.EFORBIDDEN, "Your role in %s (%s) does not allow this.", m.Org.Name, m.Role)
		}
		return fn(c, m)
	}
}

func orgLink(m *likeness.Membership) templates.OrgLink {
	return templates.OrgLink{ID: m.Org.ID, Name: m.Org.Name, Role: m.Role}
}

func (h *Handler) membersView(c echo.Context, m *likeness.Membership) (*templates.MembersView, error) {
	ctx := c.Request().Context()
	members, err := h.store.Members(ctx, m.Org.ID)
	if err != nil {
		return nil, err
	}
	v := &templates.MembersView{Chrome: h.chrome(c, "Members of "+m.Org.Name), Org: orgLink(m), Self: m.UserID,
		Form: templates.MemberForm{Role: likeness.OrgViewer}}
	for _, x := range members {
		v.Members = append(v.Members, templates.MemberRow{UserID: x.UserID, Email: x.Email, Role: x.Role, JoinedAt: x.CreatedAt})
		if x.Role == likeness.OrgOwner {
			v.Owners++
		}
	}
	if roleRank(m.Role) >= roleRank(likeness.OrgAdmin) {
		invs, err := h.store.Invitations(ctx, m.Org.ID)
		if err != nil {
			return nil, err
		}
		for _, i := range invs {
			v.Invitations = append(v.Invitations, templates.InvitationRow{ID: i.ID, Email: i.Email, Role: i.Role,
				InvitedBy: i.InvitedBy, ExpiresAt: i.ExpiresAt})
		}
	}
	return v, nil
}

func (h *Handler) handleMembers(c echo.Context, m *likeness.Membership) error {
	v, err := h.membersView(c, m)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, templates.MembersPage(*v))
}

// mayAssign reports whether a member with role actor may give (or take
// away) role target: owners any role, admins admin and viewer.
func mayAssign(actor, target string) bool {
	if actor == likeness.OrgOwner {
		return true
	}
	return actor == likeness.OrgAdmin && target != likeness.OrgOwner
}

// targetRole returns the current role of the member named in the path.
func (h *Handler) targetRole(c echo.Context, m *likeness.Membership) (string, error) {
	t, err := h.store.Membership(c.Request().Context(), m.Org.ID, c.Param("uid"))
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return "", likeness.Errorf(likeness.ENOTFOUND, "Member not found.")
	}
	if err != nil {
		return "", err
	}
	return t.Role, nil
}

func (h *Handler) memberError(c echo.Context, m *likeness.Membership, err error) error {
	status, ok := formError(err)
	if !ok {
		return err
	}
	v, verr := h.membersView(c, m)
	if verr != nil {
		return verr
	}
	v.Chrome.Error = likeness.ErrorMessage(err)
	if likeness.ErrorCode(err) == likeness.EPRECONDITION { // the store's last-owner rule
		v.Chrome.Error = fmt.Sprintf("%s is the only owner of %s, and an organization needs at least one owner. "+
			"Make another member an owner first; nothing was changed.", h.memberEmail(c, m), m.Org.Name)
	}
	return h.render(c, status, templates.MembersPage(*v))
}

// memberEmail names the member in the path, for a message.
func (h *Handler) memberEmail(c echo.Context, m *likeness.Membership) string {
	if t, err := h.store.Membership(c.Request().Context(), m.Org.ID, c.Param("uid")); err == nil && t.Email != "" {
		return t.Email
	}
	return "This member"
}

func (h *Handler) handleMemberRole(c echo.Context, m *likeness.Membership) error {
	role := c.FormValue("role")
	cur, err := h.targetRole(c, m)
	if err != nil {
		return err
	}
	if !mayAssign(m.Role, cur) || !mayAssign(m.Role, role) {
		return likeness.Errorf(likeness.EFORBIDDEN, "Only owners can change owners or make owners.")
	}
	if err := h.store.SetMemberRole(c.Request().Context(), m.Org.ID, c.Param("uid"), role); err != nil {
		return h.memberError(c, m, err)
	}
	if c.Param("uid") == m.UserID && roleRank(role) < roleRank(likeness.OrgAdmin) {
		return redirectDone(c, "/console/apps", "role")
	}
	return redirectDone(c, templates.OrgPath(m.Org.ID, "/members"), "role")
}

func (h *Handler) handleRemoveMember(c echo.Context, m *likeness.Membership) error {
	cur, err := h.targetRole(c, m)
	if err != nil {
		return err
	}
	if !mayAssign(m.Role, cur) {
		return likeness.Errorf(likeness.EFORBIDDEN, "Only owners can remove owners.")
	}
	if err := h.store.RemoveMember(c.Request().Context(), m.Org.ID, c.Param("uid")); err != nil {
		return h.memberError(c, m, err)
	}
	if c.Param("uid") == m.UserID {
		return redirectDone(c, "/console/apps", "member-gone")
	}
	return redirectDone(c, templates.OrgPath(m.Org.ID, "/members"), "member-gone")
}
