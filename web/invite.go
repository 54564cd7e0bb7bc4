package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/templates"
)

// Invitations: adding someone to an organization never looks up whether
// their address has an account (the reply is the same either way) and
// never adds them without their accepting.
const (
	invitationTTL = 7 * 24 * time.Hour
	// invitesPerHour bounds the invitations one account makes.
	invitesPerHour = 20
)

// handleInvite makes an invitation and shows its link once. The reply is
// the same whether or not an account has the address.
func (h *Handler) handleInvite(c echo.Context, m *likeness.Membership) error {
	ctx := c.Request().Context()
	s := currentSession(c)
	form := templates.MemberForm{Email: strings.TrimSpace(c.FormValue("email")), Role: c.FormValue("role")}
	if !mayAssign(m.Role, form.Role) {
		return likeness.Errorf(likeness.EFORBIDDEN, "Only owners can invite owners.")
	}
	wait, err := h.limits.invites.Wait(ctx, s.user.ID)
	if err != nil {
		return err
	}
	if wait > 0 {
		return likeness.Errorf(likeness.ERATELIMIT, "You made %d invitations in the last hour. Wait a while before the next.", invitesPerHour)
	}
	inv, token, err := h.store.CreateInvitation(ctx, m.Org.ID, form.Email, form.Role, s.user.ID, invitationTTL)
	v, verr := h.membersView(c, m)
	if verr != nil {
		return verr
	}
	if err != nil {
		status, ok := formError(err)
		if !ok {
			return err
		}
		v.Form, v.Chrome.Error = form, likeness.ErrorMessage(err)
		return h.render(c, status, templates.MembersPage(*v))
	}
	// Counts invitations made; the invitation exists already, so its link
	// is shown even when the count cannot be written.
	if _, err := h.limits.invites.Fail(ctx, s.user.ID); err != nil {
		h.log.Error("counting an invitation", "err", err)
	}
	v.InviteEmail, v.InviteLink = inv.Email, h.issuer+"/console/invitation?t="+url.QueryEscape(token)
	v.Chrome.Flash = "The invitation was created."
	return h.render(c, http.StatusCreated, templates.MembersPage(*v))
}

// handleRevokeInvitation withdraws a pending invitation.
func (h *Handler) handleRevokeInvitation(c echo.Context, m *likeness.Membership) error {
	if err := h.store.RevokeInvitation(c.Request().Context(), m.Org.ID, c.Param("iid")); err != nil {
		return err
	}
	return redirectDone(c, templates.OrgPath(m.Org.ID, "/members"), "invite-gone")
}

// handleInvitation shows what an invitation link offers: accept (signed in
// as the invited address), sign in, or create that account.
func (h *Handler) handleInvitation(c echo.Context) error {
	return h.renderInvitation(c, http.StatusOK, c.QueryParam("t"), "")
}

func (h *Handler) renderInvitation(c echo.Context, status int, token, problem string) error {
	inv, err := h.store.InvitationByToken(c.Request().Context(), token)
	if err != nil {
		return err
	}
	s, err := h.session(c)
	if err != nil {
		return err
	}
	if s != nil {
		c.Set(sessionKey, s) // for the page's chrome and form token
	}
	v := templates.InvitationView{Chrome: h.chrome(c, "Invitation to "+inv.Org.Name), Token: token,
		OrgName: inv.Org.Name, Email: inv.Email, Role: inv.Role, InvitedBy: inv.InvitedBy, ExpiresAt: inv.ExpiresAt}
	if s != nil {
		v.SignedInAs = s.user.Email
	} else {
		v.PreCSRF = h.preToken(c)
	}
	v.Chrome.Error = problem
	return h.render(c, status, templates.InvitationPage(v))
}

// handleAcceptInvitation makes the signed-in account a member.
func (h *Handler) handleAcceptInvitation(c echo.Context) error {
	s := currentSession(c)
	if _, err := h.store.AcceptInvitation(c.Request().Context(), c.FormValue("t"), s.user.ID); err != nil {
		return err
	}
	return redirectDone(c, "/console/apps", "joined")
}

// handleInvitationAccount makes the invited address's account with the
// password the person chose, makes it a member and signs it in. Sign-up
// need not be open: the invitation is the permission.
func (h *Handler) handleInvitationAccount(c echo.Context) error {
	ctx := c.Request().Context()
	token, password := c.FormValue("t"), c.FormValue("password")
	if _, err := h.store.InvitationByToken(ctx, token); err != nil {
		return err
	}
	problem := ""
	if password != c.FormValue("confirm") {
		problem = "The two passwords differ."
	} else if err := CheckNewPassword(password); err != nil {
		problem = likeness.ErrorMessage(err)
	}
	if problem != "" {
		return h.renderInvitation(c, http.StatusBadRequest, token, problem)
	}
	hash, err := h.pw.hash(ctx, password)
	if err != nil {
		return err
	}
	u, _, err := h.store.AcceptInvitationNewAccount(ctx, token, hash)
	if likeness.ErrorCode(err) == likeness.ECONFLICT {
		// Only the holder of the link learns it: the address is theirs.
		return h.renderInvitation(c, http.StatusConflict, token, "An account with this address exists: sign in to accept.")
	}
	if err != nil {
		return err
	}
	if err := h.store.RecordSignIn(ctx, u.ID); err != nil {
		return err
	}
	if err := h.startSession(c, u); err != nil {
		return err
	}
	return redirectDone(c, "/console/apps", "joined")
}
