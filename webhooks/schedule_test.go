package webhooks

import (
	"testing"
	"time"

	"github.com/likeness/likeness"
)

func TestParseSchedule(t *testing.T) {
	ok := []struct {
		in   string
		want []time.Duration
	}{
		{"1s,2s,5s", []time.Duration{time.Second, 2 * time.Second, 5 * time.Second}},
		{" 5s , 5m,30m ,2h", []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour}},
		{"250ms", []time.Duration{250 * time.Millisecond}},
		{"168h", []time.Duration{MaxScheduleDelay}},
	}
	for _, tt := range ok {
		got, err := ParseSchedule(tt.in)
		if err != nil || len(got) != len(tt.want) {
			t.Fatalf("ParseSchedule(%q) = %v, %v", tt.in, got, err)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ParseSchedule(%q)[%d] = %v, want %v", tt.in, i, got[i], tt.want[i])
			}
		}
	}
	long := "1s"
	for range MaxScheduleLen {
		long += ",1s"
	}
	for _, in := range []string{"", " ", "1s,,2s", "1s,x", "0s", "-5s", "5", "169h", "1s,2s,", long} {
		if _, err := ParseSchedule(in); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Errorf("ParseSchedule(%q) = %v, want EINVALID", in, err)
		}
	}
}

func TestDefaultScheduleSpansAboutThreeDays(t *testing.T) {
	var total time.Duration
	prev := time.Duration(0)
	for _, d := range DefaultSchedule() {
		if d < prev {
			t.Errorf("delay %v shorter than the one before (%v)", d, prev)
		}
		prev = d
		total += d
	}
	if total < 72*time.Hour || total > 84*time.Hour {
		t.Errorf("the schedule spans %v, want about three days", total)
	}
	if s := DefaultSchedule(); s[0] != 5*time.Second || s[1] != 5*time.Minute || s[2] != 30*time.Minute {
		t.Errorf("schedule %v does not start like Standard Webhooks'", s)
	}
}

func TestRetryDelay(t *testing.T) {
	s := []time.Duration{time.Second, 2 * time.Second, 5 * time.Second}
	tests := []struct {
		attempt    int
		retryAfter time.Duration
		want       time.Duration
		more       bool
	}{
		{1, 0, time.Second, true},
		{2, 0, 2 * time.Second, true},
		{3, 0, 5 * time.Second, true},
		{4, 0, 0, false}, // 1 + len(s) attempts in all
		{0, 0, 0, false},
		{1, 3 * time.Second, 3 * time.Second, true},        // a longer Retry-After is honoured
		{1, time.Hour, 5 * time.Second, true},              // up to the longest delay
		{3, 500 * time.Millisecond, 5 * time.Second, true}, // a shorter one is not
	}
	for _, tt := range tests {
		got, more := retryDelay(s, tt.attempt, tt.retryAfter)
		if got != tt.want || more != tt.more {
			t.Errorf("retryDelay(attempt %d, Retry-After %v) = %v, %v; want %v, %v", tt.attempt, tt.retryAfter, got, more, tt.want, tt.more)
		}
	}
}

func TestJitterStaysWithinTenPercent(t *testing.T) {
	d := 10 * time.Second
	seen := map[time.Duration]bool{}
	for range 1000 {
		j := jitter(d)
		if j < 9*time.Second || j > 11*time.Second {
			t.Fatalf("jitter(%v) = %v", d, j)
		}
		seen[j] = true
	}
	if len(seen) < 100 {
		t.Errorf("jitter took only %d values", len(seen))
	}
}
