package server

import (
	"net/netip"
	"sync"
)

// slotUse is how many widget sessions run now: in all, for one
// application and for one client address.
type slotUse struct {
	total, app, ip int
}

// admitSession decides whether one more widget session may start. The
// limit is max, or servable when the engine's measured capacity serves
// fewer sessions at full pace (servableSessions; 0 when not measured yet).
// Three bounds hold at once:
//   - at most the limit in all;
//   - at most perIP sessions from one client address, across every
//     application (one client cannot hold every slot);
//   - at most the limit less a reserved quarter for one application, so
//     the busiest application cannot starve the others.
func admitSession(u slotUse, max, perIP, servable int) bool {
	limit := max
	if servable > 0 {
		limit = min(max, servable)
	}
	reserved := limit / 4
	return u.total < limit && u.ip < perIP && u.app < limit-reserved
}

// sessionSlots counts running widget sessions. It is safe for concurrent use.
type sessionSlots struct {
	max, perIP int

	mu    sync.Mutex
	total int
	byApp map[string]int
	byIP  map[netip.Addr]int
}

func newSessionSlots(max, perIP int) *sessionSlots {
	return &sessionSlots{max: max, perIP: perIP, byApp: map[string]int{}, byIP: map[netip.Addr]int{}}
}

func (s *sessionSlots) use(appID string, ip netip.Addr) slotUse {
	return slotUse{total: s.total, app: s.byApp[appID], ip: s.byIP[ip]}
}

// free reports whether a session would be admitted now (for the widget's
// pre-flight check; take decides).
func (s *sessionSlots) free(appID string, ip netip.Addr, servable int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return admitSession(s.use(appID, ip), s.max, s.perIP, servable)
}

// take admits a session and returns the function that ends it, or false.
func (s *sessionSlots) take(appID string, ip netip.Addr, servable int) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !admitSession(s.use(appID, ip), s.max, s.perIP, servable) {
		return nil, false
	}
	s.total++
	s.byApp[appID]++
	s.byIP[ip]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.total--
			if s.byApp[appID]--; s.byApp[appID] == 0 {
				delete(s.byApp, appID)
			}
			if s.byIP[ip]--; s.byIP[ip] == 0 {
				delete(s.byIP, ip)
			}
		})
	}, true
}
