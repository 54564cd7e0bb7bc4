package engine

import "github.com/likeness/likeness"

// Stats is the engine's load at one moment, for monitoring.
type Stats struct {
	Workers int // analyses that may run at once
	Busy    int // analyses running
	Waiting int // analyses waiting for a worker (the queue)
}

// Stats returns the engine's load.
func (e *Engine) Stats() Stats {
	return Stats{Workers: e.cfg.Workers, Busy: e.cfg.Workers - len(e.workers), Waiting: int(e.waiting.Load())}
}

// Ready returns EUNAVAILABLE once the engine is closing; until then its
// models are loaded (New loads them all or fails).
func (e *Engine) Ready() error {
	if e.closed.Load() {
		return likeness.Errorf(likeness.EUNAVAILABLE, "The face engine is closed.")
	}
	return nil
}
