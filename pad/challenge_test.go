package pad

import (
	"testing"
	"time"

	"github.com/likeness/likeness/engine"
)

func TestChallenge(t *testing.T) {
	h := head()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type obs struct {
		yaw  float64 // the head's real yaw
		eyes float32
		flat bool // a print instead of a head
		at   time.Duration
	}
	front := func(at time.Duration) obs { return obs{0, 0.9, false, at} }
	for _, tc := range []struct {
		name  string
		steps []string
		seq   []obs
		want  Status
		why   string
	}{
		{"blink", []string{PromptBlink}, []obs{front(100), {0, 0.1, false, 200}, front(300)}, Passed, ""},
		{"closed first is not a blink yet", []string{PromptBlink}, []obs{{0, 0.1, false, 100}, front(200)}, Pending, ""},
		{"half-closed is not closed", []string{PromptBlink}, []obs{front(100), {0, 0.5, false, 200}, front(300)}, Pending, ""},
		{"turn left after facing the camera", []string{PromptTurnLeft}, []obs{front(100), {10, 0.9, false, 200}, {22, 0.9, false, 300}}, Passed, ""},
		{"turn right", []string{PromptTurnRight}, []obs{front(100), {-20, 0.9, false, 200}}, Passed, ""},
		{"already turned when prompted (a recording)", []string{PromptTurnRight}, []obs{{-25, 0.9, false, 100}, {-30, 0.9, false, 200}}, Pending, ""},
		{"wrong way", []string{PromptTurnLeft}, []obs{front(100), {-22, 0.9, false, 200}}, Failed, ReasonWrongTurn},
		{"turn while asked to blink", []string{PromptBlink}, []obs{front(100), {25, 0.9, false, 200}}, Failed, ReasonWrongTurn},
		{"a print rotated to fake the turn", []string{PromptTurnLeft}, []obs{{0, 0.9, true, 100}, {30, 0.9, true, 200}}, Failed, ReasonFlatTurn},
		{"too late", []string{PromptTurnLeft}, []obs{front(100), {22, 0.9, false, 10100 * 1}}, Failed, ReasonTimeout},
		{"frames sent before the prompt are ignored", []string{PromptTurnLeft}, []obs{{0, 0.9, false, -50}, {25, 0.9, false, -20}}, Pending, ""},
		{"two steps, returning from the first is not a wrong turn", []string{PromptTurnLeft, PromptTurnRight},
			[]obs{front(100), {22, 0.9, false, 200}, {20, 0.9, false, 300}, front(400), {-21, 0.9, false, 500}}, Passed, ""},
		{"two steps, one done", []string{PromptTurnLeft, PromptBlink}, []obs{front(100), {22, 0.9, false, 200}}, Advanced, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := []engine.Landmarks{project(h, 0, 0, tc.seq[0].flat), project(h, 2, 1, tc.seq[0].flat)}
			c := NewChallenge(tc.steps, ref, t0)
			var st Status
			var why string
			for _, o := range tc.seq {
				st, why = c.Observe(Observation{Landmarks: project(h, o.yaw, 0, o.flat), Yaw: float32(o.yaw),
					EyesOpen: [2]float32{o.eyes, o.eyes}, At: t0.Add(o.at * time.Millisecond)})
				if st == Failed || st == Passed {
					break
				}
			}
			if st != tc.want || why != tc.why {
				t.Fatalf("status %v (%s), want %v (%s)", st, why, tc.want, tc.why)
			}
		})
	}
	c := NewChallenge([]string{PromptBlink, PromptTurnLeft}, nil, t0)
	if c.Current() != PromptBlink || c.Progress() != 0 || !c.Deadline().Equal(t0.Add(StepFor)) {
		t.Errorf("new challenge: %q %v %v", c.Current(), c.Progress(), c.Deadline())
	}
}
