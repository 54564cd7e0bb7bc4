package webhooks

import (
	"math/rand/v2"
	"strings"
	"time"

	"github.com/likeness/likeness"
)

// Limits of a retry schedule.
const (
	MaxScheduleLen   = 30                  // retries
	MaxScheduleDelay = 7 * 24 * time.Hour  // one delay
	defaultJitter    = 0.1                 // ±10 % of each delay
	scheduleExample  = "5s,5m,30m,2h,5h,…" // for error messages
)

// DefaultSchedule returns the delays before each retry, the Standard
// Webhooks example: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h,
// so that the last of the ten attempts comes about 3 days 3½ hours after the
// first.
func DefaultSchedule() []time.Duration {
	return []time.Duration{
		5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
		10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
	}
}

// ParseSchedule parses a retry schedule: comma-separated Go durations, the
// delay before each retry, such as "5s,5m,30m,2h" (or "1s,2s,5s" in tests).
// Each delay must be positive and at most MaxScheduleDelay, and there are at
// most MaxScheduleLen. EINVALID otherwise.
func ParseSchedule(s string) ([]time.Duration, error) {
	parts := strings.Split(s, ",")
	if strings.TrimSpace(s) == "" || len(parts) > MaxScheduleLen {
		return nil, likeness.Errorf(likeness.EINVALID, "A retry schedule is 1 to %d comma-separated durations, like %s.",
			MaxScheduleLen, scheduleExample)
	}
	out := make([]time.Duration, 0, len(parts))
	for _, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d <= 0 || d > MaxScheduleDelay {
			return nil, likeness.Errorf(likeness.EINVALID, "Retry delay %q must be a duration from 1ms to %s, like %s.",
				strings.TrimSpace(p), MaxScheduleDelay, scheduleExample)
		}
		out = append(out, d)
	}
	return out, nil
}

// retryDelay returns the delay after the failure of attempt (1 for the
// first) and whether there is to be another attempt. A longer Retry-After
// from the receiver is honoured, up to the schedule's longest delay.
func retryDelay(schedule []time.Duration, attempt int, retryAfter time.Duration) (time.Duration, bool) {
	if attempt < 1 || attempt > len(schedule) {
		return 0, false
	}
	d := schedule[attempt-1]
	if retryAfter > d {
		d = min(retryAfter, max(d, longest(schedule)))
	}
	return d, true
}

func longest(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// jitter returns d moved randomly by up to ±10 %, so that retries of many
// deliveries that failed together spread out.
func jitter(d time.Duration) time.Duration {
	f := 1 + defaultJitter*(2*rand.Float64()-1)
	return time.Duration(float64(d) * f)
}
