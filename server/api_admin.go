package server

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
)

type keyView struct {
	ID         string     `json:"id"`
	Prefix     string     `json:"prefix"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	Key        string     `json:"key,omitempty"` // only in the reply that creates it
}

func viewKey(k *likeness.APIKey) keyView {
	return keyView{ID: k.ID, Prefix: k.Prefix, Role: k.Role, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

func (s *Server) handleListKeys(c echo.Context) error {
	keys, err := s.cfg.API.ListAPIKeys(c.Request().Context(), principal(c).App.ID)
	if err != nil {
		return err
	}
	out := struct {
		Keys []keyView `json:"keys"`
	}{Keys: []keyView{}}
	for _, k := range keys {
		out.Keys = append(out.Keys, viewKey(k))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) handleCreateKey(c echo.Context) error {
	in := struct {
		Role string `json:"role"`
	}{Role: roleMember}
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &in); err != nil {
			return err
		}
	}
	k, key, err := s.cfg.API.CreateKey(c.Request().Context(), principal(c).App.ID, in.Role)
	if err != nil {
		return err
	}
	v := viewKey(k)
	v.Key = key
	return c.JSON(http.StatusCreated, v)
}

func (s *Server) handleRevokeKey(c echo.Context) error {
	if err := s.cfg.API.RevokeKey(c.Request().Context(), principal(c).App.ID, c.Param("kid")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type auditView struct {
	Seq      int64           `json:"seq"`
	At       time.Time       `json:"at"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	AppID    string          `json:"appId,omitempty"`
	Target   string          `json:"target,omitempty"`
	Details  json.RawMessage `json:"details,omitempty"`
	PrevHash string          `json:"prevHash"`
	Hash     string          `json:"hash"`
}

// handleAudit returns the organization's audit trail and whether its chain
// verifies. Owner keys only.
func (s *Server) handleAudit(c echo.Context) error {
	p := principal(c)
	after, limit := int64(0), 100
	var err error
	if v := c.QueryParam("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return likeness.Errorf(likeness.EINVALID, "after must be a sequence number.")
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return likeness.Errorf(likeness.EINVALID, "limit must be 1 to 1000.")
		}
	}
	ctx := c.Request().Context()
	all, err := s.cfg.API.AuditEntries(ctx, p.App.OrgID, after, limit)
	if err != nil {
		return err
	}
	// An application's key sees its own application's entries; the chain's
	// verification covers the whole organization.
	entries := all[:0:0]
	for _, e := range all {
		if e.AppID == p.App.ID {
			entries = append(entries, e)
		}
	}
	n, problems, err := s.cfg.API.VerifyAudit(ctx, p.App.OrgID)
	if err != nil {
		return err
	}
	out := struct {
		Entries  []auditView             `json:"entries"`
		Total    int                     `json:"total"`
		Verified bool                    `json:"verified"`
		Problems []likeness.AuditProblem `json:"problems"`
	}{Entries: []auditView{}, Total: n, Verified: len(problems) == 0, Problems: problems}
	if out.Problems == nil {
		out.Problems = []likeness.AuditProblem{}
	}
	for _, e := range entries {
		out.Entries = append(out.Entries, auditView{e.Seq, e.At, e.Actor, e.Action, e.AppID, e.Target, e.Details, e.PrevHash, e.Hash})
	}
	return c.JSON(http.StatusOK, out)
}

// handleGetApplication describes the caller's application (and gives the
// collection ID the other endpoints take).
func (s *Server) handleGetApplication(c echo.Context) error {
	a := principal(c).App
	return c.JSON(http.StatusOK, map[string]any{"publicId": a.PublicID, "name": a.Name, "origins": a.Origins,
		"collectionId": a.CollectionID, "createdAt": a.CreatedAt})
}

func (s *Server) handleExport(c echo.Context) error {
	x, err := s.cfg.API.ExportApp(c.Request().Context(), principal(c).App.ID)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="likeness-export.json"`)
	return c.JSON(http.StatusOK, x)
}

func (s *Server) handleUsage(c echo.Context) error {
	days := 30
	if v := c.QueryParam("days"); v != "" {
		var err error
		if days, err = strconv.Atoi(v); err != nil || days < 1 || days > 90 {
			return likeness.Errorf(likeness.EINVALID, "days must be 1 to 90.")
		}
	}
	// What is still in memory counts too.
	if err := s.writeUsage(c.Request().Context()); err != nil {
		return err
	}
	since := s.cfg.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -(days - 1))
	recs, err := s.cfg.API.Usage(c.Request().Context(), principal(c).App.ID, since)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"records": recs})
}

//go:embed openapi.json
var openAPI []byte

func (s *Server) handleOpenAPI(c echo.Context) error {
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	return c.Blob(http.StatusOK, "application/json", openAPI)
}
