package likeness

import "time"

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
