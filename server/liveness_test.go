package server

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/eval"
	"github.com/likeness/likeness/pad"
)

// goodFrames runs the engine over frames as a session would and keeps the
// usable ones, scored by the passive model as the session does (pad.Scored).
func goodFrames(t *testing.T, frames [][]byte) []goodFrame {
	t.Helper()
	e := testEngine(t)
	var out []goodFrame
	t0 := time.Now()
	for i, fr := range frames {
		img, err := e.Decode(fr)
		if err != nil {
			t.Fatal(err)
		}
		faces, err := e.Analyze(context.Background(), img, engine.WantEmbedding|engine.WantLiveness)
		if err != nil || len(faces) != 1 || qualityHint(&faces[0], img) != "" {
			continue
		}
		out = append(out, goodFrame{embedding: faces[0].Embedding, liveness: faces[0].Liveness,
			scored: pad.Scored(len(out)), landmarks: faces[0].Landmarks, patch: engine.FacePatch(img, faces[0].Box),
			yaw: faces[0].Quality.Yaw, at: t0.Add(time.Duration(i) * 100 * time.Millisecond)}) // 10 fps
	}
	return out
}

// TestLivenessOnClips measures the liveness decision on every window of one
// second (11 frames at 10 fps) in the live and the replay clip.
func TestLivenessOnClips(t *testing.T) {
	const window = 11
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
			v, why := judgeLiveness(g[i:i+window], 10)
			if (v == pad.Live) == tc.live {
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
	if v, why := judgeLiveness(g, 10); v != pad.Attack || why != "static" {
		t.Fatalf("judged %v (%s), want refused as static", v, why)
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

// TestDrawPrompts: prompts are distinct, drawn from the pool, and every
// strict challenge has a turn (two of blink, left, right).
func TestDrawPrompts(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		p := drawPrompts(challengePrompts[:], challengeSteps)
		if len(p) != challengeSteps || p[0] == p[1] || (p[0] == pad.PromptBlink && p[1] == pad.PromptBlink) {
			t.Fatalf("prompts %v", p)
		}
		if !slices.Contains(p, pad.PromptTurnLeft) && !slices.Contains(p, pad.PromptTurnRight) {
			t.Fatalf("no turn in %v", p)
		}
		seen[p[0]+p[1]] = true
	}
	if len(seen) < 3 { // 6 ordered pairs; 50 draws see at least 3 of them
		t.Errorf("prompts are not random: %v", seen)
	}
}

// TestTurnsAreThreeDimensional measures pad.TurnTolerance's margins: every
// turned frame (|yaw| ≥ 18°) of the live clip against its frontal frames is
// above it, and no pair of frames of a still moved by any generated
// species is.
func TestTurnsAreThreeDimensional(t *testing.T) {
	g := goodFrames(t, clip(t, "live_lmm_hamilton_640x480.mjpeg"))
	var front []engine.Landmarks
	for _, f := range g {
		if math.Abs(float64(f.yaw)) < pad.FrontalDegrees {
			front = append(front, f.landmarks)
		}
	}
	lo, hi, n := math.Inf(1), 0.0, 0
	for _, f := range g {
		if math.Abs(float64(f.yaw)) < pad.TurnDegrees {
			continue
		}
		v := make([]float64, len(front))
		for i := range front {
			v[i] = pad.NonPlanarity(&front[i], &f.landmarks)
		}
		slices.Sort(v)
		m := v[len(v)/2]
		lo, hi, n = math.Min(lo, m), math.Max(hi, m), n+1
		if !pad.TurnIs3D(front, &f.landmarks) {
			t.Errorf("a real turn (yaw %.0f°) is not three-dimensional: %.3f", f.yaw, m)
		}
	}
	if n == 0 {
		t.Fatal("no turned frames")
	}
	t.Logf("live turns: %d frames, median non-planarity against %d frontal frames %.3f–%.3f", n, len(front), lo, hi)

	live := clip(t, "live_lmm_hamilton_640x480.mjpeg")
	still, err := jpeg.Decode(bytes.NewReader(live[0]))
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, sp := range eval.StillSpecies {
		s := goodFrames(t, eval.StillAttack(still, sp, 8, uint64(i+1)))
		for a := range s {
			for b := a + 1; b < len(s); b++ {
				worst = math.Max(worst, pad.NonPlanarity(&s[a].landmarks, &s[b].landmarks))
			}
		}
	}
	t.Logf("stills: largest pairwise non-planarity %.3f (tolerance %.2f)", worst, pad.TurnTolerance)
	if worst >= pad.TurnTolerance {
		t.Errorf("a pair of still frames reaches the turn tolerance: %.3f", worst)
	}
}

// TestParsePrompts: an operator may narrow strict's prompts (to turns only,
// where blinks are hard to see), never so far that a challenge could be
// drawn without a three-dimensional turn, nor to something unknown.
func TestParsePrompts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // nil: refused
	}{
		{"blink,turn_left,turn_right", []string{"blink", "turn_left", "turn_right"}},
		{" turn_left , turn_right ", []string{"turn_left", "turn_right"}},
		{"blink,turn_right", []string{"blink", "turn_right"}},
		{"blink", nil},
		{"turn_left", nil},
		{"", nil},
		{"blink,blink", nil},
		{"turn_left,turn_left", nil},
		{"smile,turn_left", nil},
		{"turn_left,TURN_RIGHT", nil},
	} {
		got, err := ParsePrompts(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%q accepted as %v", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	// Whatever is drawn from an accepted pool holds a turn.
	for i := 0; i < 20; i++ {
		p := drawPrompts([]string{pad.PromptBlink, pad.PromptTurnRight}, challengeSteps)
		if !slices.Contains(p, pad.PromptTurnRight) {
			t.Fatalf("drawn %v", p)
		}
	}
}

// TestSameFaceOnLiveClips: every window a session may decide on, of live
// clips of one person who moves and turns the head (the faces set's clip
// turns up to 40° both ways), shows one face (pad.SameFace). The load
// benchmark, whose clients start the clip anywhere, found sessions refused
// as two faces when every pair of frames had to match.
func TestSameFaceOnLiveClips(t *testing.T) {
	for _, name := range []string{"live_lmm_hamilton_640x480.mjpeg"} {
		g := goodFrames(t, clip(t, name))
		fr := padFrames(append(g, g...)) // looping, as clients do
		bad := 0
		for n := pad.MinFrames; n <= pad.MaxFrames; n += 5 {
			for i := 0; i < len(g); i++ {
				if !pad.SameFace(fr[i : i+n]) {
					bad++
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d windows judged to show two faces", name, bad)
		}
	}
}
