package server

import (
	"net/netip"
	"sync"
	"time"
)

// Failed liveness checks per client address and application, like AWS Face
// Liveness: after padMaxFailures failures within padWindow, the address
// gets TOO_MANY_REQUESTS (15) for padCooldown before it may try again. The
// state is in memory (one server); a restart forgets it, which costs an
// attacker nothing they could not get from a second address anyway.
const (
	padMaxFailures = 5
	padWindow      = 3 * time.Minute
	padCooldown    = 10 * time.Minute
	padMaxKeys     = 100_000 // entries kept before old ones are swept
)

// padLimits counts failed liveness checks. Safe for concurrent use.
type padLimits struct {
	mu   sync.Mutex
	now  func() time.Time
	byID map[string]*padRecord
}

type padRecord struct {
	fails []time.Time // within padWindow of the newest
	until time.Time   // cool-down end
}

func newPadLimits(now func() time.Time) *padLimits {
	return &padLimits{now: now, byID: map[string]*padRecord{}}
}

func padKey(appID string, ip netip.Addr) string { return appID + "|" + ip.String() }

// fail records one failed liveness check; the padMaxFailures-th within
// padWindow starts the cool-down.
func (l *padLimits) fail(appID string, ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.byID) >= padMaxKeys {
		for k, r := range l.byID {
			if now.After(r.until) && (len(r.fails) == 0 || now.Sub(r.fails[len(r.fails)-1]) > padWindow) {
				delete(l.byID, k)
			}
		}
	}
	k := padKey(appID, ip)
	r := l.byID[k]
	if r == nil {
		r = &padRecord{}
		l.byID[k] = r
	}
	kept := r.fails[:0]
	for _, t := range r.fails {
		if now.Sub(t) < padWindow {
			kept = append(kept, t)
		}
	}
	r.fails = append(kept, now)
	if len(r.fails) >= padMaxFailures {
		r.until, r.fails = now.Add(padCooldown), nil
	}
}

// blocked reports whether the address is cooling down for the application.
func (l *padLimits) blocked(appID string, ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.byID[padKey(appID, ip)]
	return r != nil && l.now().Before(r.until)
}
