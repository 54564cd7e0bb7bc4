package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
)

// handleExportOrg returns the export of the key's whole organization (owner
// keys): members, applications and settings, consent records, audit trail;
// never a face. Audited. Offered before deleting the organization.
func (s *Server) handleExportOrg(c echo.Context) error {
	ctx := c.Request().Context()
	app := principal(c).App
	x, err := s.cfg.API.ExportOrg(ctx, app.OrgID)
	if err != nil {
		return err
	}
	if err := s.cfg.API.Audit(ctx, likeness.AuditEntry{OrgID: app.OrgID, Action: "organization.exported", AppID: app.ID, Target: app.OrgID}); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="likeness-organization-export.json"`)
	return c.JSON(http.StatusOK, x)
}

// handleDeleteOrg deletes the key's whole organization (owner keys), once
// its exact name is sent as confirmName: every face of every application at
// once, then the keys; members and audit are kept 90 days for a restore.
func (s *Server) handleDeleteOrg(c echo.Context) error {
	var in struct {
		ConfirmName string `json:"confirmName"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	app := principal(c).App
	org, err := s.cfg.API.Organization(ctx, app.OrgID)
	if err != nil {
		return err
	}
	if !likeness.ConfirmOrgName(org.Name, in.ConfirmName) {
		return likeness.Errorf(likeness.EINVALID, "confirmName must be the organization's exact name (GET /v1/organization/export shows it).")
	}
	d, err := s.cfg.API.DeleteOrg(ctx, org.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		OrganizationID string    `json:"organizationId"`
		Applications   int       `json:"applications"`
		FacesErased    int       `json:"facesErased"`
		DeletedAt      time.Time `json:"deletedAt"`
		PurgeAfter     time.Time `json:"purgeAfter"`
	}{d.OrgID, d.Applications, d.FacesErased, d.DeletedAt, d.PurgeAfter})
}
