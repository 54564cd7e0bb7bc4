package web

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/templates"
)

// API key roles (store/sqlite's).
const (
	keyOwner  = "owner"
	keyMember = "member"
)

func (h *Handler) keysView(c echo.Context, a *appCtx) (*templates.KeysView, error) {
	keys, err := h.store.ListAPIKeys(c.Request().Context(), a.app.ID)
	if err != nil {
		return nil, err
	}
	v := &templates.KeysView{Chrome: h.chrome(c, "API keys"), App: a.header("keys")}
	// Active keys first, newest first within each group.
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i].RevokedAt == nil {
			v.Keys = append(v.Keys, keyRow(keys[i]))
		}
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i].RevokedAt != nil {
			v.Keys = append(v.Keys, keyRow(keys[i]))
		}
	}
	return v, nil
}

func keyRow(k *likeness.APIKey) templates.KeyRow {
	return templates.KeyRow{ID: k.ID, Prefix: k.Prefix, Role: k.Role, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt,
		RevokedAt: k.RevokedAt}
}

func (h *Handler) handleKeys(c echo.Context, a *appCtx) error {
	v, err := h.keysView(c, a)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, templates.KeysPage(*v))
}

// handleCreateKey makes a key and shows it once, in this reply only (which
// is never cached). Owner keys can read the organization's audit trail, so
// only console owners make them.
func (h *Handler) handleCreateKey(c echo.Context, a *appCtx) error {
	role := c.FormValue("role")
	if role != keyOwner && role != keyMember {
		return likeness.Errorf(likeness.EINVALID, "Choose the key's role.")
	}
	if role == keyOwner && a.m.Role != likeness.OrgOwner {
		return likeness.Errorf(likeness.EFORBIDDEN, "Only owners of %s can make owner keys.", a.m.Org.Name)
	}
	_, key, err := h.store.CreateKey(c.Request().Context(), a.app.ID, role)
	if err != nil {
		return err
	}
	v, err := h.keysView(c, a)
	if err != nil {
		return err
	}
	v.NewKey, v.NewKeyRole = key, role
	return h.render(c, http.StatusCreated, templates.KeysPage(*v))
}

func (h *Handler) handleRevokeKey(c echo.Context, a *appCtx) error {
	if err := h.store.RevokeKey(c.Request().Context(), a.app.ID, c.Param("kid")); err != nil {
		return err
	}
	return redirectDone(c, templates.AppPath(a.app.PublicID, "/keys"), "revoked")
}

// jsonDetails encodes audit details.
func jsonDetails(v map[string]any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
