package likeness

import (
	"testing"
	"time"
)

// Rules like the server's and the console's.
var (
	padRule    = ThrottleRule{Purpose: "pad", Max: 5, Window: 3 * time.Minute, Block: 10 * time.Minute}
	windowRule = ThrottleRule{Purpose: "signup", Max: 20, Window: 15 * time.Minute}
	pauseRule  = ThrottleRule{Purpose: "signin", Free: 3, Base: time.Second, Ceiling: 15 * time.Minute, Forget: 24 * time.Hour}
)

// blockedAfter replays failures at the given offsets from t0 and says
// whether the key is blocked at `at`.
func blockedAfter(r ThrottleRule, fails []time.Duration, at time.Duration) (bool, ThrottleState) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var st ThrottleState
	for _, f := range fails {
		st = r.Fail(st, t0.Add(f))
	}
	return t0.Add(at).Before(st.Until), st
}

func TestThrottleRuleFail(t *testing.T) {
	sec := time.Second
	n := func(count int, every time.Duration) []time.Duration {
		out := make([]time.Duration, count)
		for i := range out {
			out[i] = time.Duration(i) * every
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		rule    ThrottleRule
		fails   []time.Duration
		at      time.Duration
		blocked bool
	}{
		// Failed liveness checks: 5 in 3 min → 10 min cool-down.
		{"pad: four failures", padRule, []time.Duration{0, 10 * sec, 20 * sec, 30 * sec}, time.Minute, false},
		{"pad: five within three minutes", padRule, []time.Duration{0, 30 * sec, time.Minute, 2 * time.Minute, 2*time.Minute + 59*sec}, 3 * time.Minute, true},
		{"pad: five over more than three minutes", padRule, []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute, 3*time.Minute + sec}, 4 * time.Minute, false},
		{"pad: cool-down lasts ten minutes", padRule, n(5, 1), 10*time.Minute - sec, true},
		{"pad: and then ends", padRule, n(5, 1), 10*time.Minute + sec, false},
		{"pad: a failure in the cool-down does not shorten it", padRule, append(n(5, 1), 9*time.Minute), 10*time.Minute - sec, true},
		{"pad: nor extend it alone", padRule, append(n(5, 1), 9*time.Minute), 10*time.Minute + sec, false},
		{"pad: five more in the cool-down start another", padRule, append(n(5, 1), 9*time.Minute, 9*time.Minute+sec, 9*time.Minute+2*sec, 9*time.Minute+3*sec, 9*time.Minute+4*sec), 18 * time.Minute, true},
		// Sign-ups per address: 20 in 15 min block until the window ends.
		{"window: nineteen", windowRule, n(19, sec), time.Minute, false},
		{"window: twenty", windowRule, n(20, sec), time.Minute, true},
		{"window: blocked to its end", windowRule, n(20, sec), 15*time.Minute - sec, true},
		{"window: free after it", windowRule, n(20, sec), 15 * time.Minute, false},
		{"window: spread over two windows", windowRule, append(n(19, sec), 15*time.Minute, 15*time.Minute+sec), 15*time.Minute + 2*sec, false},
		// Console sign-ins: 3 free, then 1 s doubling.
		{"pauses: two failures ask no pause", pauseRule, n(2, 0), 0, false},
		{"pauses: the third asks 1 s", pauseRule, n(3, 0), 999 * time.Millisecond, true},
		{"pauses: which ends", pauseRule, n(3, 0), sec, false},
		{"pauses: the fourth asks 2 s", pauseRule, []time.Duration{0, 0, 0, sec}, 2*sec + 999*time.Millisecond, true},
		{"pauses: never past the ceiling", pauseRule, n(200, 0), 15 * time.Minute, false},
		{"pauses: a quiet day starts afresh", pauseRule, []time.Duration{0, 0, 0, 0, 0, 0, 24 * time.Hour}, 24 * time.Hour, false},
		// An attacker on a replica whose clock is a little behind does not
		// start a new window or get forgiven.
		{"pad: a clock behind stays in the window", padRule, []time.Duration{10 * sec, 11 * sec, 12 * sec, 13 * sec, 9 * sec}, 14 * sec, true},
		{"pauses: a clock behind keeps the count", pauseRule, []time.Duration{10 * sec, 10 * sec, 10 * sec, 9 * sec}, 11*sec + 500*time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, st := blockedAfter(tc.rule, tc.fails, tc.at); got != tc.blocked {
				t.Errorf("blocked = %v, want %v (state %+v)", got, tc.blocked, st)
			}
		})
	}
}

// TestThrottleRuleExpiry: a state never expires while it blocks or counts,
// and one that expired counts as none.
func TestThrottleRuleExpiry(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, r := range []ThrottleRule{padRule, windowRule, pauseRule} {
		var st ThrottleState
		for i := range 40 {
			st = r.Fail(st, t0.Add(time.Duration(i)*time.Second))
			if st.Expires.Before(st.Until) || st.Count > 0 && r.Window > 0 && st.Expires.Before(st.Start.Add(r.Window)) {
				t.Fatalf("%s: expires %v before until %v or window end", r.Purpose, st.Expires, st.Until)
			}
		}
		later := r.Fail(st, st.Expires)
		if later.Count != 1 {
			t.Errorf("%s: after expiry the count is %d, want 1", r.Purpose, later.Count)
		}
	}
}

func TestThrottleRuleValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule ThrottleRule
		ok   bool
	}{
		{"pad", padRule, true},
		{"window", windowRule, true},
		{"pauses", pauseRule, true},
		{"no purpose", ThrottleRule{Max: 1, Window: time.Second}, false},
		{"long purpose", ThrottleRule{Purpose: string(make([]byte, 65)), Max: 1, Window: time.Second}, false},
		{"neither kind", ThrottleRule{Purpose: "x"}, false},
		{"both kinds", ThrottleRule{Purpose: "x", Max: 1, Window: time.Second, Base: time.Second, Ceiling: time.Second, Forget: time.Second}, false},
		{"window with a pause field", ThrottleRule{Purpose: "x", Max: 1, Window: time.Second, Free: 2}, false},
		{"window without length", ThrottleRule{Purpose: "x", Max: 1}, false},
		{"negative block", ThrottleRule{Purpose: "x", Max: 1, Window: time.Second, Block: -1}, false},
		{"ceiling below base", ThrottleRule{Purpose: "x", Base: time.Minute, Ceiling: time.Second, Forget: time.Hour}, false},
		{"pause outlives the state", ThrottleRule{Purpose: "x", Base: time.Second, Ceiling: time.Hour, Forget: time.Minute}, false},
	} {
		if err := tc.rule.Validate(); (err == nil) != tc.ok || err != nil && ErrorCode(err) != EINVALID {
			t.Errorf("%s: Validate = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{0, 0}, {2, 0}, {3, time.Second}, {4, 2 * time.Second}, {10, 128 * time.Second}, {13, 15 * time.Minute}, {1000, 15 * time.Minute}} {
		if got := Backoff(tc.n, 3, time.Second, 15*time.Minute); got != tc.want {
			t.Errorf("Backoff(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}
