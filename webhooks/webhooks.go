// Package webhooks delivers an application's events to its backend as
// Standard Webhooks (https://www.standardwebhooks.com): signed, retried with
// backoff for about three days, at least once, with the same webhook-id on
// every attempt.
//
// Events are not queued here: the store writes them to a durable outbox in
// the transaction of the change that caused them (store/sqlite's emitTx). A
// Worker leases due deliveries from that outbox, sends them through an
// SSRF-safe HTTP client, and records every attempt. A lease expires on its
// own, so a delivery in flight when the process dies is sent again after a
// restart.
//
// Receivers verify requests with Verify (see docs/webhooks.md).
package webhooks

import (
	"encoding/json"

	"github.com/likeness/likeness"
)

// TimestampLayout is the layout of Body.Timestamp: RFC 3339 in UTC with
// milliseconds.
const TimestampLayout = "2006-01-02T15:04:05.000Z07:00"

// Body is the JSON body of every webhook request.
type Body struct {
	Type      string   `json:"type"`      // one of the likeness.Event* types
	Timestamp string   `json:"timestamp"` // when the event occurred (not when it was sent)
	Data      BodyData `json:"data"`
}

// BodyData is what an event says. It never holds embeddings, images or
// liveness scores.
type BodyData struct {
	FacialID   string          `json:"facialId,omitempty"`
	PublicID   string          `json:"publicId"` // the application's public ID
	ExternalID string          `json:"externalId,omitempty"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	Reason     string          `json:"reason,omitempty"`    // deletions: api, console, self_service, retention
	ConsentID  string          `json:"consentId,omitempty"` // consent.recorded and facialid.enrolled
}

// Marshal returns the JSON body for an event. The external ID and payload
// are whatever the event holds: the outbox keeps them only for applications
// that opt in.
func Marshal(ev likeness.Event) ([]byte, error) {
	b := Body{
		Type:      ev.Type,
		Timestamp: ev.OccurredAt.UTC().Format(TimestampLayout),
		Data: BodyData{
			FacialID:   ev.FacialID,
			PublicID:   ev.PublicID,
			ExternalID: ev.ExternalID,
			Payload:    ev.Payload,
			Reason:     ev.Reason,
			ConsentID:  ev.ConsentID,
		},
	}
	if len(b.Data.Payload) > 0 && !json.Valid(b.Data.Payload) {
		b.Data.Payload = nil
	}
	out, err := json.Marshal(b)
	if err != nil {
		return nil, likeness.Wrap(err, likeness.EINTERNAL, "The event cannot be encoded.")
	}
	return out, nil
}
