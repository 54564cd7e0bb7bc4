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

// reset forgets key's failures (after a success).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
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
