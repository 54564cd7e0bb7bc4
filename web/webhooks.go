package web

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/templates"
	"github.com/likeness/likeness/webhooks"
)

// privateWebhooksFlag is how a server operator allows webhooks to private
// and loopback addresses; the console names it when it refuses one.
const privateWebhooksFlag = "--webhook-allow-private (or LIKENESS_WEBHOOK_ALLOW_PRIVATE=1)"

// checkWebhookHost refuses a webhook URL whose host is a loopback, private,
// link-local or other internal address written out (an IP literal, or
// localhost) unless allowPrivate. The delivery client checks every resolved
// address again when it connects (webhooks.NewClient); this only tells the
// person at once, naming the server flag that would allow it. A URL that
// does not parse is left to the store's own validation.
func checkWebhookHost(raw string, allowPrivate bool) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Hostname() == "" {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	private := host == "localhost" || strings.HasSuffix(host, ".localhost")
	if ip, err := netip.ParseAddr(host); err == nil {
		if webhooks.CheckAddr(ip, true) != nil { // metadata, multicast, reserved: never
			return likeness.Errorf(likeness.EINVALID, "Webhooks cannot be sent to %s. Use a public URL.", host)
		}
		private = webhooks.CheckAddr(ip, false) != nil
	}
	if !private || allowPrivate {
		return nil
	}
	return likeness.Errorf(likeness.EINVALID, "%s is a private or loopback address, which this server does not send "+
		"webhooks to. Use a public URL, or start the server with %s (development only).", host, privateWebhooksFlag)
}

func endpointRow(ep *likeness.WebhookEndpoint) templates.EndpointRow {
	return templates.EndpointRow{ID: ep.ID, URL: ep.URL, Events: ep.Events, Enabled: ep.Enabled,
		DisabledReason: ep.DisabledReason, CreatedAt: ep.CreatedAt, Rotating: ep.PreviousSecretExpiresAt}
}

func (h *Handler) webhooksView(c echo.Context, a *appCtx) (*templates.WebhooksView, error) {
	ctx := c.Request().Context()
	eps, err := h.store.WebhookEndpoints(ctx, a.app.ID)
	if err != nil {
		return nil, err
	}
	include, err := h.store.WebhookIncludePayload(ctx, a.app.ID)
	if err != nil {
		return nil, err
	}
	v := &templates.WebhooksView{Chrome: h.chrome(c, "Webhooks"), App: a.header("webhooks"), IncludePayload: include,
		EventTypes: likeness.WebhookEventTypes()}
	for _, ep := range eps {
		v.Endpoints = append(v.Endpoints, endpointRow(ep)) // the secrets WebhookEndpoints returns stay here
	}
	return v, nil
}

func (h *Handler) handleWebhooks(c echo.Context, a *appCtx) error {
	v, err := h.webhooksView(c, a)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, templates.WebhooksPage(*v))
}

// audit records a console action that the store does not audit itself
// (the store audits every webhook change but a test event).
func (h *Handler) audit(c echo.Context, a *appCtx, action, target string, details map[string]any) error {
	e := likeness.AuditEntry{Action: action, AppID: a.app.ID, Target: target}
	if len(details) > 0 {
		e.Details = jsonDetails(details)
	}
	return h.store.Audit(c.Request().Context(), e)
}

// handleCreateWebhook adds an endpoint and shows its secret once.
func (h *Handler) handleCreateWebhook(c echo.Context, a *appCtx) error {
	ctx := c.Request().Context()
	form := templates.EndpointForm{URL: c.FormValue("url"), Events: formValues(c, "events")}
	err := checkWebhookHost(form.URL, h.cfg.WebhookAllowPrivate)
	var ep *likeness.WebhookEndpoint
	if err == nil {
		ep, err = h.store.CreateWebhookEndpoint(ctx, a.app.ID, likeness.WebhookEndpointCreate{URL: form.URL, Events: form.Events})
	}
	if err != nil {
		status, ok := formError(err)
		if !ok {
			return err
		}
		v, verr := h.webhooksView(c, a)
		if verr != nil {
			return verr
		}
		v.Form, v.Chrome.Error = form, likeness.ErrorMessage(err)
		return h.render(c, status, templates.WebhooksPage(*v))
	}
	v, err := h.webhooksView(c, a)
	if err != nil {
		return err
	}
	v.NewSecret, v.NewEndpointID = ep.Secret, ep.ID
	v.Chrome.Flash = "The endpoint was added."
	return h.render(c, http.StatusCreated, templates.WebhooksPage(*v))
}

func formValues(c echo.Context, name string) []string {
	if err := c.Request().ParseForm(); err != nil {
		return nil
	}
	return c.Request().PostForm[name]
}

func (h *Handler) handleWebhookPayload(c echo.Context, a *appCtx) error {
	on := c.FormValue("include") == "on"
	if err := h.store.SetWebhookIncludePayload(c.Request().Context(), a.app.ID, on); err != nil {
		return err
	}
	return redirectDone(c, templates.AppPath(a.app.PublicID, "/webhooks"), "payload")
}

func (h *Handler) webhookView(c echo.Context, a *appCtx) (*templates.WebhookView, error) {
	ctx := c.Request().Context()
	ep, err := h.store.WebhookEndpoint(ctx, a.app.ID, c.Param("eid"))
	if err != nil {
		return nil, err
	}
	v := &templates.WebhookView{Chrome: h.chrome(c, "Webhook endpoint"), App: a.header("webhooks"), Endpoint: endpointRow(ep),
		EventTypes: likeness.WebhookEventTypes()}
	ds, err := h.store.WebhookDeliveries(ctx, a.app.ID, ep.ID, likeness.WebhookLogQuery{Limit: 50})
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		v.Deliveries = append(v.Deliveries, templates.DeliveryRow{EventID: d.EventID, EventType: d.EventType,
			Status: d.Status, Attempts: d.Attempts, LastStatus: d.LastStatusCode, LastError: d.LastError,
			LastAttemptAt: d.LastAttemptAt, NextAttemptAt: d.NextAttemptAt, CreatedAt: d.CreatedAt})
	}
	as, err := h.store.WebhookAttempts(ctx, a.app.ID, ep.ID, likeness.WebhookLogQuery{Limit: 50})
	if err != nil {
		return nil, err
	}
	for _, at := range as {
		v.Attempts = append(v.Attempts, templates.AttemptRow{EventID: at.EventID, EventType: at.EventType,
			Attempt: at.Attempt, StartedAt: at.StartedAt, LatencyMS: at.Latency.Milliseconds(),
			StatusCode: at.StatusCode, Error: at.Error})
	}
	return v, nil
}

func (h *Handler) handleWebhook(c echo.Context, a *appCtx) error {
	v, err := h.webhookView(c, a)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, templates.WebhookPage(*v))
}

// handleUpdateWebhook saves an endpoint's URL, events and state.
func (h *Handler) handleUpdateWebhook(c echo.Context, a *appCtx) error {
	url, events, enabled := c.FormValue("url"), formValues(c, "events"), c.FormValue("enabled") == "on"
	if events == nil {
		events = []string{}
	}
	err := checkWebhookHost(url, h.cfg.WebhookAllowPrivate)
	var ep *likeness.WebhookEndpoint
	if err == nil {
		ep, err = h.store.UpdateWebhookEndpoint(c.Request().Context(), a.app.ID, c.Param("eid"),
			likeness.WebhookEndpointUpdate{URL: &url, Events: &events, Enabled: &enabled})
	}
	if err != nil {
		status, ok := formError(err)
		if !ok {
			return err
		}
		v, verr := h.webhookView(c, a)
		if verr != nil {
			return verr
		}
		v.Endpoint.URL, v.Endpoint.Events, v.Chrome.Error = url, events, likeness.ErrorMessage(err)
		return h.render(c, status, templates.WebhookPage(*v))
	}
	return redirectDone(c, templates.AppPath(a.app.PublicID, "/webhooks/"+ep.ID), "webhook")
}

// handleRotateWebhook makes a new secret and shows it once.
func (h *Handler) handleRotateWebhook(c echo.Context, a *appCtx) error {
	ep, err := h.store.RotateWebhookSecret(c.Request().Context(), a.app.ID, c.Param("eid"))
	if err != nil {
		return err
	}
	v, err := h.webhookView(c, a)
	if err != nil {
		return err
	}
	v.NewSecret = ep.Secret
	return h.render(c, http.StatusOK, templates.WebhookPage(*v))
}

func (h *Handler) handleTestWebhook(c echo.Context, a *appCtx) error {
	id, err := h.store.SendTestWebhook(c.Request().Context(), a.app.ID, c.Param("eid"))
	if err != nil {
		return err
	}
	if err := h.audit(c, a, "webhook.test_sent", c.Param("eid"), map[string]any{"eventId": id}); err != nil {
		return err
	}
	return redirectDone(c, templates.AppPath(a.app.PublicID, "/webhooks/"+c.Param("eid")), "test")
}

func (h *Handler) handleResendWebhook(c echo.Context, a *appCtx) error {
	event := c.FormValue("event")
	if err := h.store.ResendWebhookEvent(c.Request().Context(), a.app.ID, c.Param("eid"), event); err != nil {
		return err
	}
	return redirectDone(c, templates.AppPath(a.app.PublicID, "/webhooks/"+c.Param("eid")), "resent")
}

func (h *Handler) handleDeleteWebhook(c echo.Context, a *appCtx) error {
	if err := h.store.DeleteWebhookEndpoint(c.Request().Context(), a.app.ID, c.Param("eid")); err != nil {
		return err
	}
	return redirectDone(c, templates.AppPath(a.app.PublicID, "/webhooks"), "hook-deleted")
}
