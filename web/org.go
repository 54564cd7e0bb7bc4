package web

import (
	"crypto/rand"
	"net/http"
	"strconv"
	"strings"

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
	members, err := h.store.Members(c.Request().Context(), m.Org.ID)
	if err != nil {
		return nil, err
	}
	v := &templates.MembersView{Chrome: h.chrome(c, "Members of "+m.Org.Name), Org: orgLink(m), Self: m.UserID,
		Form: templates.MemberForm{Role: likeness.OrgViewer, Mode: "existing"}}
	for _, x := range members {
		v.Members = append(v.Members, templates.MemberRow{UserID: x.UserID, Email: x.Email, Role: x.Role, JoinedAt: x.CreatedAt})
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

// handleAddMember adds an existing account, or creates one with a one-time
// password shown once (this server sends no email).
func (h *Handler) handleAddMember(c echo.Context, m *likeness.Membership) error {
	ctx := c.Request().Context()
	form := templates.MemberForm{Email: strings.TrimSpace(c.FormValue("email")), Role: c.FormValue("role"), Mode: c.FormValue("mode")}
	if !mayAssign(m.Role, form.Role) {
		return likeness.Errorf(likeness.EFORBIDDEN, "Only owners can add owners.")
	}
	var (
		otp string
		err error
	)
	switch form.Mode {
	case "create":
		otp = oneTimePassword()
		var hash string
		if hash, err = h.pw.hash(ctx, otp); err != nil {
			return err
		}
		_, err = h.store.CreateMember(ctx, m.Org.ID, form.Email, hash, form.Role)
	default:
		_, err = h.store.AddMember(ctx, m.Org.ID, form.Email, form.Role)
	}
	if err != nil {
		status, ok := formError(err)
		if !ok && likeness.ErrorCode(err) == likeness.ENOTFOUND {
			status, ok = http.StatusNotFound, true
		}
		if !ok {
			return err
		}
		v, verr := h.membersView(c, m)
		if verr != nil {
			return verr
		}
		v.Form, v.Chrome.Error = form, likeness.ErrorMessage(err)
		return h.render(c, status, templates.MembersPage(*v))
	}
	if otp == "" {
		return redirectDone(c, templates.OrgPath(m.Org.ID, "/members"), "member")
	}
	v, err := h.membersView(c, m)
	if err != nil {
		return err
	}
	v.OneTimeEmail, v.OneTimePassword = strings.ToLower(form.Email), otp
	v.Chrome.Flash = "The account was created and added."
	return h.render(c, http.StatusCreated, templates.MembersPage(*v))
}

// oneTimePassword returns 20 random characters in groups of five, from an
// alphabet without look-alikes (about 99 bits).
func oneTimePassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789" // 31 characters
	var b strings.Builder
	buf := make([]byte, 1)
	for n := 0; n < 20; {
		_, _ = rand.Read(buf)
		if buf[0] >= 248 { // 248 = 8 × 31: no modulo bias
			continue
		}
		if n > 0 && n%5 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(alphabet[int(buf[0])%len(alphabet)])
		n++
	}
	return b.String()
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
	return h.render(c, status, templates.MembersPage(*v))
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

// auditPage is how many audit entries a page shows.
const auditPage = 50

// handleAudit shows the organization's audit trail, newest first, with the
// verification of its whole chain. Owners only.
func (h *Handler) handleAudit(c echo.Context, m *likeness.Membership) error {
	ctx := c.Request().Context()
	count, problems, err := h.store.VerifyAudit(ctx, m.Org.ID)
	if err != nil {
		return err
	}
	before := int64(count) + 1
	if b, err := strconv.ParseInt(c.QueryParam("before"), 10, 64); err == nil && b > 1 && b <= int64(count) {
		before = b
	}
	after := max(0, before-1-auditPage)
	entries, err := h.store.AuditEntries(ctx, m.Org.ID, after, int(before-1-after))
	if err != nil {
		return err
	}
	v := templates.AuditView{Chrome: h.chrome(c, "Audit trail of "+m.Org.Name), Org: orgLink(m), Count: count,
		Verified: len(problems) == 0}
	for _, p := range problems {
		v.Problems = append(v.Problems, "entry "+strconv.FormatInt(p.Seq, 10)+": "+p.Problem)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		details := string(e.Details)
		if details == "{}" {
			details = ""
		}
		v.Entries = append(v.Entries, templates.AuditRow{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action,
			App: e.AppID, Target: e.Target, Details: details, Hash: e.Hash})
	}
	if after > 0 {
		v.Older = after + 1
	}
	if before <= int64(count) {
		v.Newer = 1
	}
	return h.render(c, http.StatusOK, templates.AuditPage(v))
}
