package likeness

import (
	"encoding/json"
	"time"
)

// Event types, delivered to webhooks and recorded in the outbox in the same
// transaction as the change that caused them.
const (
	EventEnrolled        = "facialid.enrolled"
	EventAuthenticated   = "facialid.authenticated"
	EventDeleted         = "facialid.deleted"
	EventPurged          = "facialid.purged"
	EventConsentRecorded = "consent.recorded"
)

// Reasons a Facial ID was deleted (Event.Reason of EventDeleted).
const (
	ReasonAPI         = "api"
	ReasonConsole     = "console"
	ReasonSelfService = "self_service"
	ReasonRetention   = "retention"
	// ReasonAccountDeleted: the whole organization was deleted (account.go).
	ReasonAccountDeleted = "account_deleted"
)

// Event is something that happened to an application's data. It never
// carries embeddings, images or liveness scores.
type Event struct {
	ID         string          // unique; the webhook-id of every delivery attempt
	Type       string          // one of the Event* constants
	AppID      string          // internal application ID
	PublicID   string          // the application's public ID
	FacialID   string          // empty for consent events without a face yet
	ExternalID string          // the site's own ID for the person, if any
	Payload    json.RawMessage // the Facial ID's payload, only if the application opts in
	Reason     string          // for deletions
	ConsentID  string          // for consent and enrollment events
	OccurredAt time.Time
}
