package server

import (
	"context"
	"time"
)

// discardConsent removes a consent record whose enrollment did not
// complete, with its held consent.recorded event (the store keeps a record
// a Facial ID links to). It runs even when the request or the server is
// ending, with a short deadline of its own; a failure is logged, and the
// held event is then delivered after its hold.
func (s *Server) discardConsent(ctx context.Context, appID, consentID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.cfg.Consent.DiscardConsent(ctx, appID, consentID); err != nil {
		s.log.Warn("discard consent record", "app", appID, "consent", consentID, "err", err)
	}
}

// discardConsent removes the session's consent record when the session
// ends without enrolling (declined later, timed out, failed, closed).
func (ss *session) discardConsent() {
	if ss.consent != nil && ss.op == opEnroll {
		ss.s.discardConsent(ss.s.base, ss.app.ID, ss.consent.ID)
	}
}
