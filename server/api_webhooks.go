package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
)

// webhookRoutes lists the webhook management endpoints (mounted when
// Config.Webhooks is set). Reading is open to every key of the application;
// changes need an owner key.
func (s *Server) webhookRoutes() []apiRoute {
	return []apiRoute{
		{http.MethodGet, "/v1/webhooks", s.handleListWebhooks, false},
		{http.MethodPatch, "/v1/webhooks", s.handlePatchWebhooks, true},
		{http.MethodPost, "/v1/webhooks", s.handleCreateWebhook, true},
		{http.MethodGet, "/v1/webhooks/:wid", s.handleGetWebhook, false},
		{http.MethodPatch, "/v1/webhooks/:wid", s.handlePatchWebhook, true},
		{http.MethodDelete, "/v1/webhooks/:wid", s.handleDeleteWebhook, true},
		{http.MethodPost, "/v1/webhooks/:wid/rotate", s.handleRotateWebhook, true},
		{http.MethodPost, "/v1/webhooks/:wid/test", s.handleTestWebhook, true},
		{http.MethodGet, "/v1/webhooks/:wid/deliveries", s.handleWebhookDeliveries, false},
		{http.MethodGet, "/v1/webhooks/:wid/attempts", s.handleWebhookAttempts, false},
		{http.MethodPost, "/v1/webhooks/:wid/events/:eid/resend", s.handleResendWebhook, true},
	}
}

type webhookView struct {
	ID                      string     `json:"id"`
	URL                     string     `json:"url"`
	Events                  []string   `json:"events"`
	Enabled                 bool       `json:"enabled"`
	CreatedAt               time.Time  `json:"createdAt"`
	UpdatedAt               time.Time  `json:"updatedAt"`
	DisabledAt              *time.Time `json:"disabledAt,omitempty"`
	DisabledReason          string     `json:"disabledReason,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt,omitempty"`
	Secret                  string     `json:"secret,omitempty"` // only when it is made
}

// viewWebhook describes an endpoint; the secret only when withSecret.
func viewWebhook(e *likeness.WebhookEndpoint, withSecret bool) webhookView {
	v := webhookView{ID: e.ID, URL: e.URL, Events: e.Events, Enabled: e.Enabled, CreatedAt: e.CreatedAt,
		UpdatedAt: e.UpdatedAt, DisabledAt: e.DisabledAt, DisabledReason: e.DisabledReason,
		PreviousSecretExpiresAt: e.PreviousSecretExpiresAt}
	if v.Events == nil {
		v.Events = []string{}
	}
	if withSecret {
		v.Secret = e.Secret
	}
	return v
}

func (s *Server) handleListWebhooks(c echo.Context) error {
	ctx, app := c.Request().Context(), principal(c).App.ID
	eps, err := s.cfg.Webhooks.WebhookEndpoints(ctx, app)
	if err != nil {
		return err
	}
	include, err := s.cfg.Webhooks.WebhookIncludePayload(ctx, app)
	if err != nil {
		return err
	}
	out := struct {
		IncludePayload bool          `json:"includePayload"`
		EventTypes     []string      `json:"eventTypes"`
		Endpoints      []webhookView `json:"endpoints"`
	}{IncludePayload: include, EventTypes: likeness.WebhookEventTypes(), Endpoints: []webhookView{}}
	for _, e := range eps {
		out.Endpoints = append(out.Endpoints, viewWebhook(e, false))
	}
	return c.JSON(http.StatusOK, out)
}

// handlePatchWebhooks sets whether events carry external IDs and payloads.
func (s *Server) handlePatchWebhooks(c echo.Context) error {
	var in struct {
		IncludePayload *bool `json:"includePayload"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.IncludePayload == nil {
		return likeness.Errorf(likeness.EINVALID, "includePayload (true or false) is required.")
	}
	if err := s.cfg.Webhooks.SetWebhookIncludePayload(c.Request().Context(), principal(c).App.ID, *in.IncludePayload); err != nil {
		return err
	}
	return s.handleListWebhooks(c)
}

func (s *Server) handleCreateWebhook(c echo.Context) error {
	var in struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	e, err := s.cfg.Webhooks.CreateWebhookEndpoint(c.Request().Context(), principal(c).App.ID,
		likeness.WebhookEndpointCreate{URL: in.URL, Events: in.Events})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, viewWebhook(e, true))
}

func (s *Server) handleGetWebhook(c echo.Context) error {
	e, err := s.cfg.Webhooks.WebhookEndpoint(c.Request().Context(), principal(c).App.ID, c.Param("wid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewWebhook(e, false))
}

func (s *Server) handlePatchWebhook(c echo.Context) error {
	var in map[string]json.RawMessage
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	var up likeness.WebhookEndpointUpdate
	for k, v := range in {
		var err error
		switch k {
		case "url":
			up.URL = new(string)
			err = json.Unmarshal(v, up.URL)
		case "events":
			up.Events = new([]string)
			err = json.Unmarshal(v, up.Events)
		case "enabled":
			up.Enabled = new(bool)
			err = json.Unmarshal(v, up.Enabled)
		default:
			return likeness.Errorf(likeness.EINVALID, "Unknown field %q: url, events and enabled can be changed.", k)
		}
		if err != nil || string(v) == "null" {
			return likeness.Errorf(likeness.EINVALID, "%s has the wrong type.", k)
		}
	}
	e, err := s.cfg.Webhooks.UpdateWebhookEndpoint(c.Request().Context(), principal(c).App.ID, c.Param("wid"), up)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewWebhook(e, false))
}

func (s *Server) handleDeleteWebhook(c echo.Context) error {
	if err := s.cfg.Webhooks.DeleteWebhookEndpoint(c.Request().Context(), principal(c).App.ID, c.Param("wid")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// handleRotateWebhook makes a new secret (shown once); the previous one keeps
// signing alongside it for a day.
func (s *Server) handleRotateWebhook(c echo.Context) error {
	e, err := s.cfg.Webhooks.RotateWebhookSecret(c.Request().Context(), principal(c).App.ID, c.Param("wid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewWebhook(e, true))
}

func (s *Server) handleTestWebhook(c echo.Context) error {
	id, err := s.cfg.Webhooks.SendTestWebhook(c.Request().Context(), principal(c).App.ID, c.Param("wid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"eventId": id})
}

func (s *Server) handleResendWebhook(c echo.Context) error {
	if err := s.cfg.Webhooks.ResendWebhookEvent(c.Request().Context(), principal(c).App.ID, c.Param("wid"), c.Param("eid")); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"eventId": c.Param("eid")})
}

// logQuery reads eventId, before and limit.
func logQuery(c echo.Context) (likeness.WebhookLogQuery, error) {
	q := likeness.WebhookLogQuery{EventID: c.QueryParam("eventId"), Limit: 50}
	var err error
	if v := c.QueryParam("before"); v != "" {
		if q.Before, err = strconv.ParseInt(v, 10, 64); err != nil || q.Before < 0 {
			return q, likeness.Errorf(likeness.EINVALID, "before must be an entry ID.")
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		if q.Limit, err = strconv.Atoi(v); err != nil || q.Limit < 1 || q.Limit > 500 {
			return q, likeness.Errorf(likeness.EINVALID, "limit must be 1 to 500.")
		}
	}
	return q, nil
}

type deliveryView struct {
	ID             int64      `json:"id"`
	EventID        string     `json:"eventId"`
	EventType      string     `json:"eventType"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"nextAttemptAt,omitempty"`
	LastAttemptAt  *time.Time `json:"lastAttemptAt,omitempty"`
	LastStatusCode int        `json:"lastStatusCode,omitempty"`
	LastError      string     `json:"lastError,omitempty"`
	CreatedAt      time.Time  `json:"createdAt"`
}

func (s *Server) handleWebhookDeliveries(c echo.Context) error {
	q, err := logQuery(c)
	if err != nil {
		return err
	}
	ds, err := s.cfg.Webhooks.WebhookDeliveries(c.Request().Context(), principal(c).App.ID, c.Param("wid"), q)
	if err != nil {
		return err
	}
	out := struct {
		Deliveries []deliveryView `json:"deliveries"`
	}{Deliveries: []deliveryView{}}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, deliveryView{d.ID, d.EventID, d.EventType, d.Status, d.Attempts,
			d.NextAttemptAt, d.LastAttemptAt, d.LastStatusCode, d.LastError, d.CreatedAt})
	}
	return c.JSON(http.StatusOK, out)
}

type attemptView struct {
	ID         int64     `json:"id"`
	DeliveryID int64     `json:"deliveryId"`
	EventID    string    `json:"eventId"`
	EventType  string    `json:"eventType"`
	Attempt    int       `json:"attempt"`
	StartedAt  time.Time `json:"startedAt"`
	LatencyMs  int64     `json:"latencyMs"`
	StatusCode int       `json:"statusCode,omitempty"`
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"`
}

func (s *Server) handleWebhookAttempts(c echo.Context) error {
	q, err := logQuery(c)
	if err != nil {
		return err
	}
	as, err := s.cfg.Webhooks.WebhookAttempts(c.Request().Context(), principal(c).App.ID, c.Param("wid"), q)
	if err != nil {
		return err
	}
	out := struct {
		Attempts []attemptView `json:"attempts"`
	}{Attempts: []attemptView{}}
	for _, a := range as {
		out.Attempts = append(out.Attempts, attemptView{a.ID, a.DeliveryID, a.EventID, a.EventType, a.Attempt,
			a.StartedAt, a.Latency.Milliseconds(), a.StatusCode, a.Error, a.Response})
	}
	return c.JSON(http.StatusOK, out)
}
