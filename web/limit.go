package web

import (
	"sync"
	"time"
)

// maxLimiterKeys bounds a limiter's memory; past it, finished windows are
// dropped first, then every window.
const maxLimiterKeys = 50_000

// limiter counts failures per key (a client address, an account) in fixed
// windows: after max failures in one window the key is blocked until the
// window ends. It is safe for concurrent use.
type limiter struct {
	mu     sync.Mutex
	now    func() time.Time
	max    int
	window time.Duration
	keys   map[string]*failures
}

type failures struct {
	start time.Time
	n     int
}

func newLimiter(now func() time.Time, max int, window time.Duration) *limiter {
	return &limiter{now: now, max: max, window: window, keys: map[string]*failures{}}
}

// blocked returns how long key stays blocked (0 when it is not).
func (l *limiter) blocked(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.keys[key]
	if !ok {
		return 0
	}
	left := f.start.Add(l.window).Sub(l.now())
	if left <= 0 {
		delete(l.keys, key)
		return 0
	}
	if f.n < l.max {
		return 0
	}
	return left
}

// fail counts one failure of key.
func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f, ok := l.keys[key]
	if !ok || now.Sub(f.start) >= l.window {
		if len(l.keys) >= maxLimiterKeys {
			l.prune(now)
		}
		f = &failures{start: now}
		l.keys[key] = f
	}
	f.n++
}

func (l *limiter) prune(now time.Time) {
	for k, f := range l.keys {
		if now.Sub(f.start) >= l.window {
			delete(l.keys, k)
		}
	}
	if len(l.keys) >= maxLimiterKeys {
		clear(l.keys)
	}
}

// backoff is how long a key must wait after its latest failure before it
// may try again, given its failures so far: nothing for the first free
// ones, then base, doubling with each further failure, at most ceiling.
func backoff(failures, free int, base, ceiling time.Duration) time.Duration {
	if failures < free {
		return 0
	}
	d := base
	for i := free; i < failures && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// throttle asks a key (an account at an address, an address) for a growing
// pause after each failure past the first few (backoff). It never locks:
// every pause ends, a success forgets the key's failures, and a key quiet
// for forget starts afresh. It is safe for concurrent use.
type throttle struct {
	now           func() time.Time
	free          int
	base, ceiling time.Duration
	forget        time.Duration

	mu   sync.Mutex
	keys map[string]*strikes
}

type strikes struct {
	n    int
	last time.Time
}

func newThrottle(now func() time.Time, free int, base, ceiling, forget time.Duration) *throttle {
	return &throttle{now: now, free: free, base: base, ceiling: ceiling, forget: forget, keys: map[string]*strikes{}}
}

// wait returns how long key must still wait (0: it may try now).
func (t *throttle) wait(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.keys[key]
	if !ok {
		return 0
	}
	now := t.now()
	if now.Sub(s.last) >= t.forget {
		delete(t.keys, key)
		return 0
	}
	return max(0, s.last.Add(backoff(s.n, t.free, t.base, t.ceiling)).Sub(now))
}

// fail counts one failure of key.
func (t *throttle) fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	s, ok := t.keys[key]
	if !ok || now.Sub(s.last) >= t.forget {
		if len(t.keys) >= maxLimiterKeys {
			for k, v := range t.keys {
				if now.Sub(v.last) >= t.forget {
					delete(t.keys, k)
				}
			}
			if len(t.keys) >= maxLimiterKeys {
				clear(t.keys)
			}
		}
		s = &strikes{}
		t.keys[key] = s
	}
	s.n++
	s.last = now
}

// reset forgets key's failures (after a success).
func (t *throttle) reset(key string) {
	t.mu.Lock()
	delete(t.keys, key)
	t.mu.Unlock()
}
