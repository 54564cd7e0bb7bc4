package web

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness/crypt"
)

// onceCookie carries a secret from a form's POST to the page its redirect
// shows (POST/redirect/GET), encrypted and bound to the console session and
// the page: the page shows it once and deletes the cookie, so a reload or
// the back button shows it no more. It lives onceTTL at most.
const (
	onceCookie = "__Host-likeness_once"
	onceTTL    = 5 * time.Minute
)

type onceValue struct {
	Secret string `json:"s"`
	Exp    int64  `json:"e"` // Unix seconds
}

// onceAAD binds a sealed secret to the session and the page showing it.
func onceAAD(s *consoleSession, page string) []byte {
	return crypt.AAD("console-once-secret", s.claims.SID, page)
}

// setOnce keeps secret for the next GET of page by the same session.
func (h *Handler) setOnce(c echo.Context, page, secret string) error {
	now := h.now()
	b, err := json.Marshal(onceValue{Secret: secret, Exp: now.Add(onceTTL).Unix()})
	if err != nil {
		return err
	}
	sealed, err := crypt.Seal(h.onceKey, b, onceAAD(currentSession(c), page))
	if err != nil {
		return err
	}
	setCookie(c, onceCookie, base64.RawURLEncoding.EncodeToString(sealed), now.Add(onceTTL), now)
	return nil
}

// takeOnce returns the secret kept for page by setOnce, once, and deletes
// the cookie; "" when there is none (or it is another session's, another
// page's, or expired).
func (h *Handler) takeOnce(c echo.Context, page string) string {
	ck, err := c.Cookie(onceCookie)
	if err != nil {
		return ""
	}
	setCookie(c, onceCookie, "", time.Time{}, h.now())
	sealed, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return ""
	}
	b, err := crypt.Open(h.onceKey, sealed, onceAAD(currentSession(c), page))
	if err != nil {
		return ""
	}
	var v onceValue
	if json.Unmarshal(b, &v) != nil || h.now().Unix() > v.Exp {
		return ""
	}
	return v.Secret
}
