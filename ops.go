package likeness

import (
	"context"
	"database/sql"
	"time"
)

// StoreHealth is what /readyz and the metrics read of a store. Every store
// that `likeness serve` runs on implements it.
type StoreHealth interface {
	// Ping returns an error when the database does not answer a query.
	Ping(ctx context.Context) error
	// VectorsReady returns an error when the vector index does not answer
	// (Weaviate's readiness; an in-process index is loaded at open).
	VectorsReady(ctx context.Context) error
	// PendingWebhooks returns the webhook deliveries not yet made.
	PendingWebhooks(ctx context.Context) (int, error)
	// PoolStats returns the connection pools' statistics by pool name.
	PoolStats() map[string]sql.DBStats
}

// Observer receives the server's measurements of widget sessions, for
// monitoring (package metrics exports them to Prometheus). Implementations
// are safe for concurrent use and return at once. Nothing about a person
// (no score, no frame, no identifier) is passed.
type Observer interface {
	// SessionStarted counts a widget session that began (op: "enroll" or
	// "authenticate").
	SessionStarted(op string)
	// SessionEnded counts how a session ended, or a session refused before
	// it began: outcome is "ok" or a FACEIO code name (FioCode.String).
	SessionEnded(op, outcome string)
	// FrameProcessed observes the time one camera frame took from its
	// arrival to the reply (decoding, the models, and the decision when it
	// was the last frame).
	FrameProcessed(d time.Duration)
	// Decided observes the time a session's decision took once liveness was
	// established: the search and decision, or the enrollment's storage.
	Decided(op string, d time.Duration)
}
