package server

import (
	"context"
	"net/netip"
	"time"

	"github.com/likeness/likeness"
)

// Failed liveness checks per client address and application, like AWS Face
// Liveness: after padMaxFailures failures within padWindow (a fixed window
// from the first failure), the address gets TOO_MANY_REQUESTS (15) for
// padCooldown before it may try again. The counts are in the store
// (likeness.Throttles), so every replica on one database shares them.
const (
	padMaxFailures = 5
	padWindow      = 3 * time.Minute
	padCooldown    = 10 * time.Minute
)

// padLimits counts failed liveness checks. Safe for concurrent use.
type padLimits struct{ t *likeness.Throttle }

func newPadLimits(store likeness.Throttles, now func() time.Time) (*padLimits, error) {
	t, err := likeness.NewThrottle(store, likeness.ThrottleRule{Purpose: "widget-liveness",
		Max: padMaxFailures, Window: padWindow, Block: padCooldown}, now)
	if err != nil {
		return nil, err
	}
	return &padLimits{t: t}, nil
}

func padKey(appID string, ip netip.Addr) string { return appID + "|" + ip.String() }

// fail records one failed liveness check; the padMaxFailures-th within
// padWindow starts the cool-down.
func (l *padLimits) fail(ctx context.Context, appID string, ip netip.Addr) error {
	_, err := l.t.Fail(ctx, padKey(appID, ip))
	return err
}

// blocked reports whether the address is cooling down for the application.
func (l *padLimits) blocked(ctx context.Context, appID string, ip netip.Addr) (bool, error) {
	wait, err := l.t.Wait(ctx, padKey(appID, ip))
	return wait > 0, err
}
