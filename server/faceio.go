package server

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
)

// FACEIO-compatible endpoints. A FACEIO backend migrates by changing the host:
// the same paths, GET or POST, parameters `key` and `fid` (and `payload` or
// `pin`) in the query string, a form or a JSON body, and FACEIO's reply shape
// {"status":200,…} or {"status":N,"error":"…"}.

// fioStyle marks a request whose errors use FACEIO's reply shape.
const fioStyle = "fioStyle"

// fioParams reads the request's parameters once: query, then form or JSON body.
func fioParams(c echo.Context) map[string]string {
	if m, ok := c.Get("fioParams").(map[string]string); ok {
		return m
	}
	m := map[string]string{}
	for k, v := range c.QueryParams() {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	req := c.Request()
	if req.Method == http.MethodPost {
		ct := req.Header.Get("Content-Type")
		switch {
		case strings.HasPrefix(ct, "application/json"):
			var body map[string]json.RawMessage
			if json.NewDecoder(req.Body).Decode(&body) == nil {
				for k, v := range body {
					var s string
					if json.Unmarshal(v, &s) == nil {
						m[k] = s
					} else {
						m[k] = string(v) // a JSON payload given as an object
					}
				}
			}
		default:
			if form, err := c.FormParams(); err == nil {
				for k, v := range form {
					if len(v) > 0 {
						m[k] = v[0]
					}
				}
			}
		}
	}
	c.Set("fioParams", m)
	return m
}

// markFioStyle makes the request's errors use FACEIO's reply shape.
func markFioStyle(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(fioStyle, true)
		return next(c)
	}
}

// paramKey reads the API key from FACEIO's `key` parameter.
func paramKey(c echo.Context) string { return fioParams(c)["key"] }

func fid(c echo.Context) (string, error) {
	id := strings.TrimSpace(fioParams(c)["fid"])
	if id == "" {
		return "", likeness.Errorf(likeness.EINVALID, "Missing fid parameter.")
	}
	return id, nil
}

func fioOK(c echo.Context, extra map[string]any) error {
	out := map[string]any{"status": http.StatusOK}
	for k, v := range extra {
		out[k] = v
	}
	return c.JSON(http.StatusOK, out)
}

// handleFioDelete: /deletefacialid?key=&fid= erases the Facial ID.
func (s *Server) handleFioDelete(c echo.Context) error {
	id, err := fid(c)
	if err != nil {
		return err
	}
	if err := s.cfg.Faces.DeleteFace(c.Request().Context(), principal(c).App.ID, id, likeness.ReasonAPI); err != nil {
		return err
	}
	return fioOK(c, nil)
}

// handleFioPayload: /setfacialidpayload?key=&fid=&payload= replaces the payload.
func (s *Server) handleFioPayload(c echo.Context) error {
	id, err := fid(c)
	if err != nil {
		return err
	}
	raw := fioParams(c)["payload"]
	patch := likeness.FacePatch{}
	switch {
	case raw == "" || raw == "null":
		patch.ClearPayload = true
	case json.Valid([]byte(raw)):
		patch.Payload = json.RawMessage(raw)
	default: // FACEIO accepts a plain string payload
		b, _ := json.Marshal(raw)
		patch.Payload = b
	}
	if _, err := s.cfg.API.UpdateFace(c.Request().Context(), principal(c).App.ID, id, patch); err != nil {
		return err
	}
	return fioOK(c, nil)
}

// handleFioPIN: /setfacialidpincode?key=&fid=&pin= sets the PIN code.
func (s *Server) handleFioPIN(c echo.Context) error {
	id, err := fid(c)
	if err != nil {
		return err
	}
	pin := fioParams(c)["pin"]
	if pin == "" {
		return likeness.Errorf(likeness.EINVALID, "Missing pin parameter.")
	}
	ctx, appID := c.Request().Context(), principal(c).App.ID
	st, err := s.cfg.Policy.Settings(ctx, appID)
	if err != nil {
		return err
	}
	// The same rule as the widget's enrollment (handlePIN).
	if err := st.CheckNewPIN(pin).Err(st); err != nil {
		return err
	}
	if st.UniquePINs {
		used, err := s.cfg.Policy.PINInUse(ctx, appID, pin)
		if err != nil {
			return err
		}
		if used {
			return likeness.Errorf(likeness.ECONFLICT, "The PIN cannot be used; choose another.")
		}
	}
	if err := s.cfg.API.SetPIN(ctx, appID, id, pin); err != nil {
		return err
	}
	return fioOK(c, nil)
}

// handleFioCheck: /checkfacialid?key=&fid= says whether the Facial ID exists.
func (s *Server) handleFioCheck(c echo.Context) error {
	id, err := fid(c)
	if err != nil {
		return err
	}
	_, err = s.cfg.Faces.Face(c.Request().Context(), principal(c).App.ID, id)
	switch likeness.ErrorCode(err) {
	case "":
		return fioOK(c, map[string]any{"valid": true})
	case likeness.ENOTFOUND:
		return fioOK(c, map[string]any{"valid": false})
	default:
		return err
	}
}
