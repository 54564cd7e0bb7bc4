package likeness

import (
	"context"
	"time"
)

// EventTest is the type of the event sent, on request, to one endpoint to
// try it. Endpoints cannot subscribe to it; it is always delivered.
const EventTest = "webhook.test"

// WebhookEventTypes returns the event types a webhook endpoint can subscribe
// to, in a new slice.
func WebhookEventTypes() []string {
	return []string{EventEnrolled, EventAuthenticated, EventDeleted, EventPurged, EventConsentRecorded}
}

// Statuses of a WebhookDelivery.
const (
	DeliveryPending   = "pending"   // waiting for its next attempt (or being attempted)
	DeliverySucceeded = "succeeded" // an attempt got a 2xx reply
	DeliveryFailed    = "failed"    // every attempt failed, or the endpoint was disabled
)

// WebhookEndpoint is where an application's events are delivered.
type WebhookEndpoint struct {
	ID        string
	AppID     string
	URL       string
	Secret    string   // "whsec_…", decrypted; set only where documented; never log it
	Events    []string // subscribed event types; empty means every event
	Enabled   bool
	CreatedAt time.Time
	UpdatedAt time.Time
	// DisabledAt and DisabledReason say when and why the endpoint was
	// disabled: by its owner, by a 410 Gone reply, or after failing for days.
	DisabledAt     *time.Time
	DisabledReason string
	// PreviousSecretExpiresAt is set during a secret rotation: until then the
	// previous secret signs every delivery too.
	PreviousSecretExpiresAt *time.Time
}

// WebhookEndpointCreate is the input to WebhookService.CreateWebhookEndpoint.
type WebhookEndpointCreate struct {
	URL    string   // absolute http or https URL
	Events []string // event types from WebhookEventTypes; empty means every event
}

// WebhookEndpointUpdate changes the fields that are not nil.
type WebhookEndpointUpdate struct {
	URL     *string
	Events  *[]string
	Enabled *bool // enabling clears DisabledAt and DisabledReason
}

// WebhookDelivery is one event for one endpoint: the unit that is retried.
type WebhookDelivery struct {
	ID             int64
	AppID          string
	EndpointID     string
	EventID        string // the webhook-id of every attempt
	EventType      string
	Status         string // DeliveryPending, DeliverySucceeded or DeliveryFailed
	Attempts       int
	NextAttemptAt  *time.Time // pending only
	LastAttemptAt  *time.Time
	LastStatusCode int    // HTTP status of the last attempt; 0 when there was no reply
	LastError      string // short; empty after a success
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// WebhookAttempt is one HTTP request of a delivery, as the delivery log keeps it.
type WebhookAttempt struct {
	ID         int64
	DeliveryID int64
	EndpointID string
	EventID    string
	EventType  string
	Attempt    int // 1 for the first
	StartedAt  time.Time
	Latency    time.Duration
	StatusCode int    // 0 when there was no reply
	Error      string // short; empty after a success
	Response   string // the first bytes (at most a few hundred) of the reply body
}

// WebhookLogQuery selects delivery log entries, newest first.
type WebhookLogQuery struct {
	EventID string // only this event's entries, when set
	Before  int64  // only entries with a smaller ID (0: from the newest)
	Limit   int    // at most this many (default 50, at most 500)
}

// WebhookService manages an application's webhook endpoints and shows their
// delivery log. Every method is confined to the application appID: another
// application's endpoint or event is ENOTFOUND. Every change is audited in
// the transaction that makes it, with the actor from likeness.WithActor.
type WebhookService interface {
	// WebhookEndpoints returns the application's endpoints, oldest first,
	// with their current secrets decrypted: never show or log them (a
	// secret is shown once, when it is made).
	WebhookEndpoints(ctx context.Context, appID string) ([]*WebhookEndpoint, error)
	// WebhookEndpoint returns one endpoint, without its secret. ENOTFOUND.
	WebhookEndpoint(ctx context.Context, appID, endpointID string) (*WebhookEndpoint, error)
	// CreateWebhookEndpoint adds an enabled endpoint and returns it with its
	// new secret, which is shown once. EINVALID for a bad URL or event type,
	// ECONFLICT when the application has too many endpoints.
	CreateWebhookEndpoint(ctx context.Context, appID string, in WebhookEndpointCreate) (*WebhookEndpoint, error)
	// UpdateWebhookEndpoint changes an endpoint. Disabling it fails its
	// pending deliveries. EINVALID, ENOTFOUND.
	UpdateWebhookEndpoint(ctx context.Context, appID, endpointID string, in WebhookEndpointUpdate) (*WebhookEndpoint, error)
	// RotateWebhookSecret gives the endpoint a new secret and returns the
	// endpoint with it (shown once); the previous secret keeps signing
	// alongside for 24 hours. ENOTFOUND.
	RotateWebhookSecret(ctx context.Context, appID, endpointID string) (*WebhookEndpoint, error)
	// DeleteWebhookEndpoint deletes an endpoint with its deliveries and log.
	// ENOTFOUND.
	DeleteWebhookEndpoint(ctx context.Context, appID, endpointID string) error
	// WebhookDeliveries returns an endpoint's deliveries. ENOTFOUND.
	WebhookDeliveries(ctx context.Context, appID, endpointID string, q WebhookLogQuery) ([]*WebhookDelivery, error)
	// WebhookAttempts returns an endpoint's delivery attempts. ENOTFOUND.
	WebhookAttempts(ctx context.Context, appID, endpointID string, q WebhookLogQuery) ([]*WebhookAttempt, error)
	// ResendWebhookEvent delivers an event to an endpoint again, now, with the
	// same webhook-id. ENOTFOUND for an unknown endpoint or event,
	// EPRECONDITION for a disabled endpoint.
	ResendWebhookEvent(ctx context.Context, appID, endpointID, eventID string) error
	// SendTestWebhook queues an EventTest event for the endpoint and returns
	// its ID. ENOTFOUND, EPRECONDITION for a disabled endpoint.
	SendTestWebhook(ctx context.Context, appID, endpointID string) (string, error)
	// WebhookIncludePayload says whether the application's events carry the
	// Facial ID's external ID and payload. ENOTFOUND.
	WebhookIncludePayload(ctx context.Context, appID string) (bool, error)
	// SetWebhookIncludePayload sets it (off by default). ENOTFOUND.
	SetWebhookIncludePayload(ctx context.Context, appID string, on bool) error
}

// WebhookTask is one delivery leased to a delivery worker for one attempt.
type WebhookTask struct {
	DeliveryID int64
	Lease      string // names the lease; the WebhookResult must carry it
	Attempt    int    // 1 for the first attempt
	Event      Event
	EndpointID string
	URL        string
	Secrets    []string // "whsec_…": the current secret, then the previous one during a rotation
}

// WebhookResult is the outcome of one attempt at a WebhookTask, reported to
// the outbox by the delivery worker.
type WebhookResult struct {
	Task       *WebhookTask
	StartedAt  time.Time
	Latency    time.Duration
	StatusCode int    // 0 when there was no reply
	Error      string // short, client-safe; empty on success
	Response   string // the first bytes of the reply body
	Succeeded  bool
	// RetryAt is when to try again after a failure; zero means never (the
	// delivery fails).
	RetryAt time.Time
	// Disable, when set, disables the endpoint for this reason (410 Gone).
	Disable string
	// DisableIfFailingBefore, when set and the attempt failed, disables the
	// endpoint if every attempt at it has failed since this time or earlier.
	DisableIfFailingBefore time.Time
}

// WebhookDisabled reports an endpoint the outbox disabled while recording
// results.
type WebhookDisabled struct {
	AppID      string
	EndpointID string
	Reason     string
}
