package web

import (
	"context"
	"time"

	"github.com/likeness/likeness"
)

// throttles are the console's throttles. Their counts live in the store
// (the throttles table), so every server on one database counts the same
// failures.
type throttles struct {
	signIn, signInAddr, signUp, privacy, invites *likeness.Throttle
}

func newThrottles(store likeness.Throttles, now func() time.Time) (*throttles, error) {
	var t throttles
	for _, r := range []struct {
		dst  **likeness.Throttle
		rule likeness.ThrottleRule
	}{
		// Growing pauses, never a lock (docs/security.md, "Console
		// accounts"): an account at one address gets 3 free tries, then 1 s
		// doubling to 15 min; an address over any accounts 30 free tries,
		// then 1 s doubling to at most 10 s, so people behind a shared
		// address are only slowed.
		{&t.signIn, likeness.ThrottleRule{Purpose: "console-signin", Free: 3, Base: time.Second,
			Ceiling: 15 * time.Minute, Forget: 24 * time.Hour}},
		{&t.signInAddr, likeness.ThrottleRule{Purpose: "console-signin-address", Free: 30, Base: time.Second,
			Ceiling: 10 * time.Second, Forget: 15 * time.Minute}},
		// Failed sign-ups per client address (they tell whether an email
		// has an account), and failed privacy-page sign-ins per address.
		{&t.signUp, likeness.ThrottleRule{Purpose: "console-signup", Max: 20, Window: 15 * time.Minute}},
		{&t.privacy, likeness.ThrottleRule{Purpose: "privacy-signin", Max: 20, Window: 15 * time.Minute}},
		// Invitations made per account.
		{&t.invites, likeness.ThrottleRule{Purpose: "console-invite", Max: invitesPerHour, Window: time.Hour}},
	} {
		var err error
		if *r.dst, err = likeness.NewThrottle(store, r.rule, now); err != nil {
			return nil, err
		}
	}
	return &t, nil
}

// signInKey names an account at one client address for the throttle.
func signInKey(email, ip string) string { return email + "\x00" + ip }

// signInWait returns how long the account at the address must wait before
// its password is checked (0: at once): the longer of the account's pause
// at that address and the address's own.
func (t *throttles) signInWait(ctx context.Context, email, ip string) (time.Duration, error) {
	pair, err := t.signIn.Wait(ctx, signInKey(email, ip))
	if err != nil {
		return 0, err
	}
	addr, err := t.signInAddr.Wait(ctx, ip)
	return max(pair, addr), err
}

// signInFailed counts a wrong password of the account at the address.
func (t *throttles) signInFailed(ctx context.Context, email, ip string) error {
	if _, err := t.signIn.Fail(ctx, signInKey(email, ip)); err != nil {
		return err
	}
	_, err := t.signInAddr.Fail(ctx, ip)
	return err
}
