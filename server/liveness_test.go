package server

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
)

// goodFrames runs the engine over frames as a session would and keeps the
// usable ones.
func goodFrames(t *testing.T, frames [][]byte) []goodFrame {
	t.Helper()
	e := testEngine(t)
	var out []goodFrame
	for _, fr := range frames {
		img, err := e.Decode(fr)
		if err != nil {
			t.Fatal(err)
		}
		faces, err := e.Analyze(context.Background(), img, engine.WantEmbedding|engine.WantLiveness)
		if err != nil || len(faces) != 1 || qualityHint(&faces[0], img) != "" {
			continue
		}
		p := faces[0].Landmarks.Five()
		out = append(out, goodFrame{embedding: faces[0].Embedding, liveness: faces[0].Liveness,
			landmarks: faces[0].Landmarks, iod: float32(math.Hypot(float64(p[1].X-p[0].X), float64(p[1].Y-p[0].Y)))})
	}
	return out
}

// TestLivenessOnClips measures the liveness decision on every window of
// enrollment length in the live and the replay clip.
func TestLivenessOnClips(t *testing.T) {
	const window = 5
	for _, tc := range []struct {
		clip    string
		live    bool
		minRate float64 // share of windows that must be judged correctly
	}{
		{"live_lmm_hamilton_640x480.mjpeg", true, 0.95},
		{"spoof_replay_silentface_F2_640x480.mjpeg", false, 1.0},
	} {
		g := goodFrames(t, clip(t, tc.clip))
		if len(g) < window {
			t.Fatalf("%s: only %d good frames", tc.clip, len(g))
		}
		right, reasons := 0, map[string]int{}
		for i := 0; i+window <= len(g); i++ {
			ok, why := judgeLiveness(g[i : i+window])
			if ok == tc.live {
				right++
			}
			reasons[why]++
		}
		n := len(g) - window + 1
		t.Logf("%s: %d/%d windows judged correctly; refusal signals %v", tc.clip, right, n, reasons)
		if rate := float64(right) / float64(n); rate < tc.minRate {
			t.Errorf("%s: %.2f of windows correct, want ≥ %.2f", tc.clip, rate, tc.minRate)
		}
	}
}

// TestStaticReplayRefusedEvenWhenPassiveSaysLive: one live frame sent again
// and again looks live to the passive model, but it does not move.
func TestStaticReplayRefusedEvenWhenPassiveSaysLive(t *testing.T) {
	live := clip(t, "live_lmm_hamilton_640x480.mjpeg")
	g := goodFrames(t, [][]byte{live[0], live[0], live[0], live[0], live[0]})
	if len(g) != 5 {
		t.Fatalf("%d good frames", len(g))
	}
	for _, f := range g {
		if !engine.IsLive(f.liveness) {
			t.Fatal("the passive model already refuses this frame; the test needs one it accepts")
		}
	}
	if ok, why := judgeLiveness(g); ok || why != "static" {
		t.Fatalf("judged live=%v (%s), want refused as static", ok, why)
	}

	// End to end: the session answers PAD_ATTACK and stores nothing.
	h := newHarness(t, Limits{})
	c, _, err := h.dial(opEnroll, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	c.begin(opEnroll, nil)
	m := c.stream([][]byte{live[0]})
	if m["code"] != float64(likeness.FioPADAttack) {
		t.Fatalf("got %v, want PAD_ATTACK", m)
	}
	if h.faceCount() != 0 {
		t.Fatal("a face was stored")
	}
}

func TestClampDuration(t *testing.T) {
	def := 27 * 1e9
	for _, tc := range []struct {
		in   float64
		want float64
	}{{0, def}, {-3, def}, {1, 5e9}, {10, 10e9}, {1e9, 3 * def}} {
		if got := clampDuration(tc.in, 27e9); float64(got) != tc.want {
			t.Errorf("clampDuration(%v) = %v, want %v", tc.in, got, fmt.Sprint(tc.want))
		}
	}
}

func TestChallengePrompts(t *testing.T) {
	face := func(yaw, eyes float32) *engine.Face {
		f := &engine.Face{EyesOpen: [2]float32{eyes, eyes}}
		f.Quality.Yaw = yaw
		return f
	}
	for _, tc := range []struct {
		prompt string
		seq    []*engine.Face
		want   bool
	}{
		{"blink", []*engine.Face{face(0, 0.9), face(0, 0.1), face(0, 0.95)}, true},
		{"blink", []*engine.Face{face(0, 0.1), face(0, 0.9)}, false},               // closed first: not a blink yet
		{"blink", []*engine.Face{face(0, 0.9), face(0, 0.5), face(0, 0.9)}, false}, // half-closed is not closed
		{"blink", []*engine.Face{face(0, 0.9), face(0, 0.9)}, false},
		{"turn_left", []*engine.Face{face(10, 1), face(20, 1)}, true},
		{"turn_left", []*engine.Face{face(-30, 1)}, false},
		{"turn_right", []*engine.Face{face(-19, 1)}, true},
		{"turn_right", []*engine.Face{face(17, 1), face(-10, 1)}, false},
	} {
		c := &challenge{steps: []string{tc.prompt}}
		got := false
		for _, f := range tc.seq {
			got = c.met(f)
		}
		if got != tc.want {
			t.Errorf("%s over %d frames: %v, want %v", tc.prompt, len(tc.seq), got, tc.want)
		}
	}
	// Prompts are distinct and drawn from the pool.
	for i := 0; i < 20; i++ {
		c := newChallenge(time.Now(), challengePrompts[:])
		if len(c.steps) != challengeSteps || c.steps[0] == c.steps[1] {
			t.Fatalf("steps %v", c.steps)
		}
	}
}
