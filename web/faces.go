package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/templates"
)

// Face listing and search bounds.
const (
	facesPerPage   = 50
	searchPage     = 100  // faces read per store call while searching
	searchMaxScan  = 1000 // faces a search reads at most
	searchMaxShown = 100  // matches shown at most
	maxQueryLen    = 256
)

func faceRow(f *likeness.Face) templates.FaceRow {
	r := templates.FaceRow{FacialID: f.FacialID, ExternalID: f.ExternalID, EnrolledAt: f.EnrolledAt, LastAuthAt: f.LastAuthAt}
	if len(f.Payload) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, f.Payload) == nil {
			r.Payload = templates.Short(buf.String(), 80)
		}
	}
	return r
}

// handleFaces lists the application's Facial IDs, newest first, or searches
// them: an exact Facial ID or external ID is found at once; otherwise the
// newest faces are read page by page (payloads are encrypted, so they can
// only be searched once decrypted) and matched in memory, up to
// searchMaxScan faces.
func (h *Handler) handleFaces(c echo.Context, a *appCtx) error {
	ctx := c.Request().Context()
	col, err := h.store.Collection(ctx, a.app.ID)
	if err != nil {
		return err
	}
	q := strings.TrimSpace(c.QueryParam("q"))
	if len(q) > maxQueryLen {
		q = q[:maxQueryLen]
	}
	v := templates.FacesView{Chrome: h.chrome(c, "Facial IDs"), App: a.header("faces"), Query: q, Total: col.FaceCount}
	if q == "" {
		page, err := h.store.ListFaces(ctx, a.app.ID, "", c.QueryParam("cursor"), facesPerPage)
		if err != nil {
			return err
		}
		for _, f := range page.Faces {
			v.Faces = append(v.Faces, faceRow(f))
		}
		v.NextCursor = page.NextCursor
		return h.render(c, http.StatusOK, templates.FacesPage(v))
	}
	seen := map[string]bool{}
	add := func(f *likeness.Face) {
		if !seen[f.FacialID] && len(v.Faces) < searchMaxShown {
			seen[f.FacialID] = true
			v.Faces = append(v.Faces, faceRow(f))
		}
	}
	if f, err := h.store.Face(ctx, a.app.ID, strings.ToLower(q)); err == nil {
		add(f)
	} else if likeness.ErrorCode(err) != likeness.ENOTFOUND {
		return err
	}
	exact, err := h.store.ListFaces(ctx, a.app.ID, q, "", searchPage)
	if err != nil {
		return err
	}
	for _, f := range exact.Faces {
		add(f)
	}
	match := faceMatcher(q)
	cursor := ""
	for v.Scanned < searchMaxScan {
		page, err := h.store.ListFaces(ctx, a.app.ID, "", cursor, searchPage)
		if err != nil {
			return err
		}
		for _, f := range page.Faces {
			v.Scanned++
			if match(f) {
				add(f)
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	v.Truncated = cursor != ""
	return h.render(c, http.StatusOK, templates.FacesPage(v))
}

// faceMatcher returns a case-insensitive match of q against a face's IDs
// and payload: "field=value" (or field:value) matches a top-level payload
// field exactly, anything else is a substring.
func faceMatcher(q string) func(*likeness.Face) bool {
	lq := strings.ToLower(q)
	field, value, isField := strings.Cut(q, "=")
	if !isField {
		field, value, isField = strings.Cut(q, ":")
	}
	field, value = strings.TrimSpace(field), strings.TrimSpace(value)
	isField = isField && field != "" && !strings.ContainsAny(field, " \"{}")
	return func(f *likeness.Face) bool {
		if strings.Contains(strings.ToLower(f.FacialID), lq) || strings.Contains(strings.ToLower(f.ExternalID), lq) {
			return true
		}
		if len(f.Payload) == 0 {
			return false
		}
		if isField {
			var obj map[string]json.RawMessage
			if json.Unmarshal(f.Payload, &obj) == nil {
				if raw, ok := obj[field]; ok {
					var s string
					if json.Unmarshal(raw, &s) == nil {
						return strings.EqualFold(s, value)
					}
					return strings.EqualFold(strings.TrimSpace(string(raw)), value)
				}
			}
		}
		return strings.Contains(strings.ToLower(string(f.Payload)), lq)
	}
}

// handleFace shows one Facial ID with its consent record and notice.
func (h *Handler) handleFace(c echo.Context, a *appCtx) error {
	ctx := c.Request().Context()
	f, err := h.store.Face(ctx, a.app.ID, c.Param("fid"))
	if err != nil {
		return err
	}
	x, err := h.store.FaceExtras(ctx, a.app.ID, f.FacialID)
	if err != nil {
		return err
	}
	d := templates.FaceDetail{FacialID: f.FacialID, ExternalID: f.ExternalID, EnrolledAt: f.EnrolledAt,
		LastAuthAt: f.LastAuthAt, HasPIN: x.HasPIN, Images: x.Images}
	if len(f.Payload) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, f.Payload, "", "  ") == nil {
			d.Payload = buf.String()
		}
	}
	rec, err := h.store.ConsentRecord(ctx, a.app.ID, f.ConsentID)
	switch {
	case err == nil:
		d.ConsentID, d.ConsentKind, d.ConsentAt = rec.ID, rec.Kind, rec.CreatedAt
		d.NoticeVersion, d.NoticeLocale, d.NoticeSHA256, d.ConsentMethod = rec.NoticeVersion, rec.Locale, rec.NoticeSHA256, rec.Method
		if rec.NoticeVersion > 0 && rec.Locale != "" {
			if n, err := h.store.Notice(ctx, a.app.ID, rec.Locale, rec.NoticeVersion); err == nil {
				d.NoticeTitle, d.NoticeText = n.Title, n.Text
			} else if likeness.ErrorCode(err) != likeness.ENOTFOUND {
				return err
			}
		}
	case likeness.ErrorCode(err) != likeness.ENOTFOUND:
		return err
	}
	v := templates.FaceView{Chrome: h.chrome(c, "Facial ID"), App: a.header("faces"), Face: d}
	return h.render(c, http.StatusOK, templates.FacePage(v))
}

// handleDeleteFace erases a Facial ID after its confirmation box is ticked.
func (h *Handler) handleDeleteFace(c echo.Context, a *appCtx) error {
	if c.FormValue("confirm") != "yes" {
		return likeness.Errorf(likeness.EINVALID, "Tick the confirmation box to erase the Facial ID. Nothing was erased.")
	}
	if err := h.store.DeleteFace(c.Request().Context(), a.app.ID, c.Param("fid"), likeness.ReasonConsole); err != nil {
		return err
	}
	return redirectDone(c, templates.AppPath(a.app.PublicID, "/faces"), "face-deleted")
}
