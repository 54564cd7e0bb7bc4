package likeness

import (
	"context"
	"time"
)

// ThrottleRule says how the failures of one purpose (console sign-ins,
// liveness checks, …) are counted per key (a client address, an account)
// and when a key is blocked. A rule is one of two kinds:
//
//   - a fixed window (Max > 0): Max failures within Window of the window's
//     first failure block the key until the window ends or, when Block is
//     set, for Block from the Max-th failure (the count then starts afresh);
//   - growing pauses (Base > 0): each failure past the first Free asks the
//     key to wait Base from that failure, doubling with every further
//     failure up to Ceiling; a key without a failure for Forget starts
//     afresh, and a success forgets it (Throttles.ForgetFailures).
type ThrottleRule struct {
	Purpose string // scopes the keys: the same key under two purposes is two counts

	Max    int           // fixed window: failures that block
	Window time.Duration // fixed window: its length from its first failure
	Block  time.Duration // fixed window: block length from the Max-th failure (0: until the window ends)

	Free    int           // growing pauses: failures without a pause
	Base    time.Duration // growing pauses: the first pause
	Ceiling time.Duration // growing pauses: the longest pause
	Forget  time.Duration // growing pauses: quiet time after which the key starts afresh
}

// ThrottleState is what a store keeps for one key of one purpose.
type ThrottleState struct {
	Count   int       // failures in the current window, or since the key started afresh
	Start   time.Time // the current window's first failure (fixed windows)
	Last    time.Time // the latest failure
	Until   time.Time // the key is blocked while now is before Until
	Expires time.Time // from then on the state means nothing and may be deleted
}

// Validate returns EINVALID for a rule that cannot work: no purpose, both
// kinds or neither, or a pause that outlives the state that asks for it.
func (r ThrottleRule) Validate() error {
	window := r.Max > 0 && r.Window > 0 && r.Block >= 0
	pauses := r.Base > 0 && r.Free >= 0 && r.Ceiling >= r.Base && r.Forget >= r.Ceiling
	switch {
	case r.Purpose == "" || len(r.Purpose) > 64:
		return Errorf(EINVALID, "A throttle needs a purpose of at most 64 bytes.")
	case window == pauses || (window && (r.Base != 0 || r.Free != 0 || r.Ceiling != 0 || r.Forget != 0)) ||
		(pauses && (r.Max != 0 || r.Window != 0 || r.Block != 0)):
		return Errorf(EINVALID, "A throttle is either a fixed window (Max, Window, Block) or growing pauses (Free, Base, Ceiling, Forget).")
	}
	return nil
}

// Fail returns st after one more failure at now. A state that expired
// (Expires not after now) counts as none. It never shortens a block, and a
// clock a little behind the one that wrote st (another replica's) neither
// starts a new window nor forgets failures.
func (r ThrottleRule) Fail(st ThrottleState, now time.Time) ThrottleState {
	if !now.Before(st.Expires) {
		st = ThrottleState{}
	}
	if r.Base > 0 {
		st.Count++
		st.Last = later(st.Last, now)
		st.Until = later(st.Until, st.Last.Add(Backoff(st.Count, r.Free, r.Base, r.Ceiling)))
		st.Expires = st.Last.Add(r.Forget)
		return st
	}
	if st.Count == 0 || !now.Before(st.Start.Add(r.Window)) {
		st.Count, st.Start = 0, now
	}
	st.Count++
	st.Last = later(st.Last, now)
	if st.Count >= r.Max {
		if r.Block > 0 {
			st.Until = later(st.Until, now.Add(r.Block))
			st.Count, st.Start = 0, time.Time{}
		} else {
			st.Until = later(st.Until, st.Start.Add(r.Window))
		}
	}
	st.Expires = st.Until
	if st.Count > 0 {
		st.Expires = later(st.Expires, st.Start.Add(r.Window))
	}
	return st
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Backoff is the pause a key must wait after its latest failure, given its
// failures so far: nothing for the first free ones, then base, doubling
// with each further failure, at most ceiling.
func Backoff(failures, free int, base, ceiling time.Duration) time.Duration {
	if failures < free {
		return 0
	}
	d := base
	for i := free; i < failures && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// Throttles keeps failure counts in the store, so that every replica on
// one database counts the same failures. Keys are scoped by the rule's
// purpose. Implementations keep a bounded number of keys per purpose and
// delete expired states.
type Throttles interface {
	// RecordFailure counts one failure of key at now under rule, atomically
	// across replicas (ThrottleRule.Fail applied to the stored state), and
	// returns until when the key is blocked (not after now: it is not).
	// EINVALID for a rule that fails Validate or an empty key.
	RecordFailure(ctx context.Context, rule ThrottleRule, key string, now time.Time) (time.Time, error)
	// BlockedUntil returns until when key is blocked for purpose; the zero
	// time when it has no failures.
	BlockedUntil(ctx context.Context, purpose, key string) (time.Time, error)
	// ForgetFailures forgets key's failures for purpose (after a success).
	ForgetFailures(ctx context.Context, purpose, key string) error
}

// Throttle applies one rule through a Throttles store with a clock. It is
// what a handler holds; it is safe for concurrent use.
type Throttle struct {
	store Throttles
	rule  ThrottleRule
	now   func() time.Time
}

// NewThrottle returns a Throttle, or EINVALID for a rule that fails
// Validate. now nil means time.Now.
func NewThrottle(store Throttles, rule ThrottleRule, now func() time.Time) (*Throttle, error) {
	if err := rule.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, Errorf(EINVALID, "A throttle needs a store.")
	}
	if now == nil {
		now = time.Now
	}
	return &Throttle{store: store, rule: rule, now: now}, nil
}

// Rule returns the throttle's rule.
func (t *Throttle) Rule() ThrottleRule { return t.rule }

// Wait returns how long key must still wait (0: it may try now).
func (t *Throttle) Wait(ctx context.Context, key string) (time.Duration, error) {
	until, err := t.store.BlockedUntil(ctx, t.rule.Purpose, key)
	if err != nil {
		return 0, err
	}
	return max(0, until.Sub(t.now())), nil
}

// Fail counts one failure of key and returns how long it must now wait.
// The failure is recorded even when ctx is cancelled (a client that hangs
// up after its attempt must still be counted).
func (t *Throttle) Fail(ctx context.Context, key string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := t.now()
	until, err := t.store.RecordFailure(ctx, t.rule, key, now)
	if err != nil {
		return 0, err
	}
	return max(0, until.Sub(now)), nil
}

// Reset forgets key's failures (after a success).
func (t *Throttle) Reset(ctx context.Context, key string) error {
	return t.store.ForgetFailures(ctx, t.rule.Purpose, key)
}
