package web

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/templates"
)

// errSignIn is the one reply to a wrong email or password.
var errSignIn = likeness.Errorf(likeness.EUNAUTHORIZED, "The email or password is not right.")

// signUpAllowed reports whether the sign-up form is open.
func (h *Handler) signUpAllowed(c echo.Context) (bool, error) {
	switch h.cfg.SignUp {
	case SignUpOpen:
		return true, nil
	case SignUpOff:
		return false, nil
	}
	n, err := h.store.CountUsers(c.Request().Context())
	return n == 0, err
}

func (h *Handler) handleSignInPage(c echo.Context) error {
	if s, err := h.session(c); err == nil && s != nil {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	return h.renderSignIn(c, http.StatusOK, c.QueryParam("email"), "")
}

func (h *Handler) renderSignIn(c echo.Context, status int, email, problem string) error {
	open, err := h.signUpAllowed(c)
	if err != nil {
		return err
	}
	next := c.QueryParam("next")
	if c.Request().Method == http.MethodPost {
		next = c.FormValue("next")
	}
	v := templates.SignInView{Chrome: h.chrome(c, "Sign in"), PreCSRF: h.preToken(c), Email: email,
		Next: safeNext(next), SignUpAllowed: open}
	v.Chrome.Error = problem
	return h.render(c, status, templates.SignInPage(v))
}

// handleSignIn checks the password (always spending the same work, known
// account or not), under a limit of failures per client address and per
// account.
func (h *Handler) handleSignIn(c echo.Context) error {
	ctx := c.Request().Context()
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	password := c.FormValue("password")
	ip := h.cfg.ClientIP(c.Request())
	wait, err := h.limits.signInWait(ctx, email, ip)
	if err != nil {
		return err
	}
	if wait > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return h.renderSignIn(c, http.StatusTooManyRequests, email, tooMany(wait))
	}
	u, err := h.store.UserByEmail(ctx, email)
	hash := ""
	switch {
	case err == nil:
		hash = u.PasswordHash
	case likeness.ErrorCode(err) != likeness.ENOTFOUND:
		return err
	}
	ok, err := h.pw.check(ctx, hash, password)
	if err != nil && likeness.ErrorCode(err) == likeness.EUNAVAILABLE {
		return err
	}
	if !ok || u == nil {
		if err := h.limits.signInFailed(ctx, email, ip); err != nil {
			return err
		}
		h.log.Info("console sign-in refused", "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		return h.renderSignIn(c, http.StatusUnauthorized, email, likeness.ErrorMessage(errSignIn))
	}
	if err := h.limits.signIn.Reset(ctx, signInKey(email, ip)); err != nil {
		// The right password still signs in; the count is forgotten later.
		h.log.Error("forgetting failed sign-ins", "err", err)
	}
	if err := h.store.RecordSignIn(ctx, u.ID); err != nil {
		return err
	}
	if err := h.startSession(c, u); err != nil {
		return err
	}
	if u.MustChangePassword {
		return c.Redirect(http.StatusSeeOther, "/console/account")
	}
	return c.Redirect(http.StatusSeeOther, safeNext(c.FormValue("next")))
}

// tooMany is the message of a throttled sign-in.
func tooMany(wait time.Duration) string {
	when := templates.Plural(int(math.Ceil(wait.Seconds())), "second", "seconds")
	if wait > time.Minute {
		when = templates.Plural(int(math.Ceil(wait.Minutes())), "minute", "minutes")
	}
	return fmt.Sprintf("Too many failed sign-ins. For your security, wait %s before the next try. "+
		"If you forgot your password, ask an owner of your organization to invite you with another address.", when)
}

func (h *Handler) handleSignUpPage(c echo.Context) error {
	return h.renderSignUp(c, http.StatusOK, "", "", "")
}

func (h *Handler) renderSignUp(c echo.Context, status int, email, org, problem string) error {
	open, err := h.signUpAllowed(c)
	if err != nil {
		return err
	}
	v := templates.SignUpView{Chrome: h.chrome(c, "Create your account"), PreCSRF: h.preToken(c), Email: email,
		OrgName: org, Closed: !open}
	v.Chrome.Error = problem
	if !open && status == http.StatusOK {
		status = http.StatusForbidden
	}
	return h.render(c, status, templates.SignUpPage(v))
}

// handleSignUp makes an account and its organization, and signs it in.
func (h *Handler) handleSignUp(c echo.Context) error {
	ctx := c.Request().Context()
	email, org := strings.TrimSpace(c.FormValue("email")), strings.TrimSpace(c.FormValue("org"))
	password := c.FormValue("password")
	open, err := h.signUpAllowed(c)
	if err != nil {
		return err
	}
	if !open {
		return h.renderSignUp(c, http.StatusForbidden, email, org, "")
	}
	ip := h.cfg.ClientIP(c.Request())
	wait, err := h.limits.signUp.Wait(ctx, ip)
	if err != nil {
		return err
	}
	if wait > 0 {
		return h.renderSignUp(c, http.StatusTooManyRequests, email, org,
			fmt.Sprintf("Too many attempts from your network. Try again in %s.", templates.Plural(int(math.Ceil(wait.Minutes())), "minute", "minutes")))
	}
	problem := ""
	switch {
	case email == "":
		problem = "Enter your email address."
	case org == "":
		problem = "Name your organization."
	case password != c.FormValue("confirm"):
		problem = "The two passwords differ."
	}
	if problem == "" {
		if err := CheckNewPassword(password); err != nil {
			problem = likeness.ErrorMessage(err)
		}
	}
	if problem != "" {
		return h.renderSignUp(c, http.StatusBadRequest, email, org, problem)
	}
	hash, err := h.pw.hash(ctx, password)
	if err != nil {
		return err
	}
	u, _, err := h.store.CreateAccount(ctx, likeness.AccountCreate{Email: email, PasswordHash: hash, OrgName: org})
	if err != nil {
		if status, ok := formError(err); ok {
			// Counted like a failed sign-in: it tells whether an email has an account.
			if _, err := h.limits.signUp.Fail(ctx, ip); err != nil {
				return err
			}
			return h.renderSignUp(c, status, email, org, likeness.ErrorMessage(err))
		}
		return err
	}
	if h.cfg.DemoOrgID != "" {
		if _, err := h.store.ClaimOrg(likeness.WithActor(ctx, "console:"+u.ID), h.cfg.DemoOrgID, u.ID); err != nil &&
			likeness.ErrorCode(err) != likeness.ENOTFOUND {
			return err
		}
	}
	if err := h.store.RecordSignIn(ctx, u.ID); err != nil {
		return err
	}
	if err := h.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/apps")
}

// handleSignOut ends the session: its ID is refused until it would have
// expired anyway.
func (h *Handler) handleSignOut(c echo.Context) error {
	s := currentSession(c)
	until := time.Unix(s.claims.Auth, 0).Add(ConsoleSessionMax)
	if err := h.store.RevokeSession(c.Request().Context(), s.claims.SID, until); err != nil {
		return err
	}
	setCookie(c, consoleCookie, "", time.Time{}, h.now())
	return c.Redirect(http.StatusSeeOther, "/console/signin?done=signedout")
}

func (h *Handler) handleAccount(c echo.Context) error {
	return h.renderAccount(c, http.StatusOK, "")
}

func (h *Handler) renderAccount(c echo.Context, status int, problem string) error {
	s := currentSession(c)
	v := templates.AccountView{Chrome: h.chrome(c, "Your account"), Email: s.user.Email, Forced: s.user.MustChangePassword,
		CreatedAt: s.user.CreatedAt}
	v.Chrome.Error = problem
	return h.render(c, status, templates.AccountPage(v))
}

// handlePassword changes the password, which ends every other session, and
// starts a new session for this browser.
func (h *Handler) handlePassword(c echo.Context) error {
	ctx := c.Request().Context()
	s := currentSession(c)
	current, password := c.FormValue("current"), c.FormValue("password")
	ip := h.cfg.ClientIP(c.Request())
	wait, err := h.limits.signInWait(ctx, s.user.Email, ip)
	if err != nil {
		return err
	}
	if wait > 0 {
		return h.renderAccount(c, http.StatusTooManyRequests, tooMany(wait))
	}
	ok, err := h.pw.check(ctx, s.user.PasswordHash, current)
	if err != nil && likeness.ErrorCode(err) == likeness.EUNAVAILABLE {
		return err
	}
	if !ok {
		if err := h.limits.signInFailed(ctx, s.user.Email, ip); err != nil {
			return err
		}
		return h.renderAccount(c, http.StatusBadRequest, "The current password is not right.")
	}
	if password != c.FormValue("confirm") {
		return h.renderAccount(c, http.StatusBadRequest, "The two new passwords differ.")
	}
	if err := CheckNewPassword(password); err != nil {
		return h.renderAccount(c, http.StatusBadRequest, likeness.ErrorMessage(err))
	}
	if password == current {
		return h.renderAccount(c, http.StatusBadRequest, "Choose a password different from the current one.")
	}
	hash, err := h.pw.hash(ctx, password)
	if err != nil {
		return err
	}
	u, err := h.store.SetPassword(ctx, s.user.ID, hash)
	if err != nil {
		return err
	}
	if err := h.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/apps?done=password")
}
