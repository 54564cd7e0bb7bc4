package server

import (
	"math"
	"sync"
	"time"
)

// Admission control from the engine's measured capacity. A widget session
// sends up to MaxFPS frames a second and each is answered before the next
// is looked at; the engine, with W workers and a frame costing c of worker
// time, answers W/c frames a second, shared round-robin between sessions
// (engine.Engine.acquire). A session decides in time when it is answered
// at DecisionFPS. A new session is admitted only while the sessions already
// admitted, each at DecisionFPS, leave room for it (servableSessions): past
// that point every session would be answered more slowly and every
// decision would be late. The refused session gets TOO_MANY_REQUESTS (15)
// at once with a retry hint, and the admitted ones keep their pace.
const (
	// capacityWindow is how often the cost of a frame is measured again.
	capacityWindow = time.Second
	// capacityMinFrames is how many frames a measurement needs; until
	// the first one, only the configured MaxSessions bounds admission.
	capacityMinFrames = 10
	// costWeight is the weight of a new measurement in the running cost.
	costWeight = 0.3
)

// servableSessions is how many sessions an engine of workers, whose frames
// cost cost of worker time each, answers at fps frames a second each; 0
// when the cost is not known yet (no bound). At least one session is
// always servable.
func servableSessions(workers int, cost time.Duration, fps int) int {
	if cost <= 0 || workers <= 0 || fps <= 0 {
		return 0
	}
	perSecond := float64(workers) * float64(time.Second) / float64(cost)
	return max(1, int(perSecond/float64(fps)))
}

// retryHint is when a refused client should try again: when the running
// sessions, which end every sessionTime on average, will have freed a
// slot — at least one second, at most ten.
func retryHint(sessionTime time.Duration) time.Duration {
	s := math.Ceil(sessionTime.Seconds())
	return time.Duration(min(10, max(1, s))) * time.Second
}

// capacity measures the engine's cost per frame from its work time (the
// time workers were busy, queueing left out) and the frames the sessions
// analysed, and how long sessions last. It is safe for concurrent use.
type capacity struct {
	workers int
	fps     int
	work    func() time.Duration // the engine's WorkTime
	now     func() time.Time

	mu          sync.Mutex
	frames      int64
	lastAt      time.Time
	lastWork    time.Duration
	lastFrames  int64
	cost        time.Duration // running cost of a frame; 0 until measured
	sessionTime time.Duration // running duration of a session
}

func newCapacity(workers, fps int, work func() time.Duration, now func() time.Time) *capacity {
	return &capacity{workers: workers, fps: fps, work: work, now: now, lastAt: now(), lastWork: work()}
}

// frameDone counts one analysed frame.
func (c *capacity) frameDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames++
	c.measure()
}

// sessionDone counts how long one session that analysed frames lasted.
func (c *capacity) sessionDone(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessionTime == 0 {
		c.sessionTime = d
		return
	}
	c.sessionTime = time.Duration(costWeight*float64(d) + (1-costWeight)*float64(c.sessionTime))
}

// measure updates the cost once a window with enough frames has passed.
func (c *capacity) measure() {
	now := c.now()
	n := c.frames - c.lastFrames
	if now.Sub(c.lastAt) < capacityWindow || n < capacityMinFrames {
		return
	}
	w := c.work()
	cost := (w - c.lastWork) / time.Duration(n)
	c.lastAt, c.lastWork, c.lastFrames = now, w, c.frames
	if c.cost == 0 {
		c.cost = cost
		return
	}
	c.cost = time.Duration(costWeight*float64(cost) + (1-costWeight)*float64(c.cost))
}

// sessions returns how many sessions the engine serves at full pace (0:
// not measured yet) and the retry hint for a refused one.
func (c *capacity) sessions() (int, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return servableSessions(c.workers, c.cost, c.fps), retryHint(c.sessionTime)
}
