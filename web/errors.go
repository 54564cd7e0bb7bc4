package web

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/templates"
)

// contentSecurityPolicy is every page's policy: this server's own scripts,
// styles and connections only; no inline script or style; no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// statusOf maps an application error code to an HTTP status.
func statusOf(code string) int {
	switch code {
	case likeness.EINVALID, likeness.ENOFACE, likeness.EMANYFACES:
		return http.StatusBadRequest
	case likeness.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case likeness.ENOTFOUND:
		return http.StatusNotFound
	case likeness.ECONFLICT:
		return http.StatusConflict
	case likeness.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case likeness.EFORBIDDEN, likeness.ECONSENT:
		return http.StatusForbidden
	case likeness.ERATELIMIT:
		return http.StatusTooManyRequests
	case likeness.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case likeness.EPRECONDITION:
		return http.StatusPreconditionFailed
	case likeness.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	default:
		return http.StatusInternalServerError
	}
}

// pages is the one place where a page's error becomes a reply: an HTML
// page with the error's public message (a generic one for internal
// errors), the cause only in the log with the request ID. Every page reply
// gets the Content-Security-Policy and is never cached.
func (h *Handler) pages(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("Cache-Control", "no-store")
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code := likeness.EINVALID
			switch he.Code {
			case http.StatusNotFound:
				code = likeness.ENOTFOUND
			case http.StatusRequestEntityTooLarge:
				code = likeness.ETOOLARGE
			case http.StatusMethodNotAllowed:
				code = likeness.EUNSUPPORTED
			}
			err = likeness.Wrap(err, code, http.StatusText(he.Code)+".")
		}
		code := likeness.ErrorCode(err)
		status := statusOf(code)
		log := h.log.With("request_id", hd.Get(echo.HeaderXRequestID), "path", c.Path(), "status", status)
		if status >= 500 {
			log.Error("page failed", "err", err)
		} else {
			log.Info("page refused", "code", code, "err", err)
		}
		if status == http.StatusServiceUnavailable && hd.Get("Retry-After") == "" {
			hd.Set("Retry-After", "2") // the hashing pool frees up within seconds
		}
		v := templates.ErrorView{Chrome: h.chrome(c, errorTitle(status)), Status: status,
			Message: likeness.ErrorMessage(err)}
		return h.render(c, status, templates.ErrorPage(v))
	}
}

func errorTitle(status int) string {
	switch status {
	case http.StatusNotFound:
		return "Not found"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusTooManyRequests:
		return "Too many attempts"
	case http.StatusInternalServerError:
		return "Something went wrong"
	}
	return http.StatusText(status)
}

// render writes a page. It renders into a buffer first, so a component that
// fails leaves no half page.
func (h *Handler) render(c echo.Context, status int, page templ.Component) error {
	var buf bytes.Buffer
	if err := page.Render(c.Request().Context(), &buf); err != nil {
		return likeness.Wrap(err, likeness.EINTERNAL, "The page could not be shown.")
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// formError reports whether err is a mistake in a form (shown on the form
// again) rather than a failure (shown as an error page), and its status.
func formError(err error) (int, bool) {
	switch code := likeness.ErrorCode(err); code {
	case likeness.EINVALID, likeness.ECONFLICT, likeness.EPRECONDITION, likeness.ETOOLARGE:
		return statusOf(code), true
	}
	return 0, false
}

// chrome returns what every page shows around its content.
func (h *Handler) chrome(c echo.Context, title string) templates.Chrome {
	ch := templates.Chrome{Title: title, Assets: h.assets.urls, Version: h.cfg.ProductVersion}
	if s := currentSession(c); s != nil {
		ch.User, ch.CSRF, ch.Operator = s.user.Email, s.csrf, s.user.Operator
		if ms, err := h.store.Memberships(c.Request().Context(), s.user.ID); err == nil {
			for _, m := range ms {
				ch.Orgs = append(ch.Orgs, templates.OrgLink{ID: m.Org.ID, Name: m.Org.Name, Role: m.Role})
			}
		}
	}
	if msg, ok := doneMessages[c.QueryParam("done")]; ok {
		ch.Flash = msg
	} else if msg, ok := accountDone(c.QueryParam("done")); ok { // account.go
		ch.Flash = msg
	}
	ch.Support = underSupport(c) // support.go
	return ch
}

// doneMessages confirm an action after its redirect (?done=key): fixed
// texts, so a link cannot make the page say anything else.
var doneMessages = map[string]string{
	"signedout":     "You are signed out.",
	"password":      "Your password was changed. Other sessions of your account were signed out.",
	"created":       "The application was created.",
	"renamed":       "The application was renamed.",
	"origins":       "The allowed origins were saved.",
	"collection":    "The retention policy was saved.",
	"deleted":       "The application and all its data were deleted.",
	"notice":        "A new version of the consent notice was saved.",
	"notice-same":   "The notice is unchanged; no version was added.",
	"security":      "The security settings were saved.",
	"revoked":       "The API key was revoked.",
	"webhook":       "The webhook endpoint was saved.",
	"payload":       "The webhook payload setting was saved.",
	"test":          "A test event was queued for this endpoint.",
	"resent":        "The event was queued for delivery again.",
	"hook-deleted":  "The webhook endpoint was deleted.",
	"face-deleted":  "The Facial ID was erased.",
	"joined":        "You joined the organization.",
	"invite-gone":   "The invitation was withdrawn.",
	"role":          "The role was changed.",
	"member-gone":   "The member was removed.",
	"privacy-out":   "You are signed out of this page.",
	"privacy-again": "Your session on this page ended. Verify again to continue.",
}
