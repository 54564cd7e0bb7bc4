package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/pad"
)

// The active challenge (pad.Challenge): the user follows prompts drawn at
// random — two of blink, turn left and turn right in strict liveness; one
// turn in standard liveness when the frames so far are explained by one
// planar motion. A recording cannot know the prompts in advance, a turn
// counts only after the head faced the camera following the prompt, and it
// must be three-dimensional (a tilted print is not).
const (
	challengeSteps = 2
	// sameFaceMaxYaw bounds the head turn of a challenge frame the session
	// looks at: every such frame's embedding is compared with the template,
	// turned or not, so that the head answering a prompt is the face that
	// was checked. Frames turned further are ignored (they cannot answer a
	// prompt; the head passes through smaller turns on its way). Measured
	// on the live clips of ../shared/faces and ../shared/nuaa: frames
	// turned up to 40° keep a similarity of at least 0.49 to their own
	// frontal template, above engine.Matches's threshold.
	sameFaceMaxYaw = 45
)

// challengePrompts are the prompts a strict challenge draws from.
var challengePrompts = [...]string{pad.PromptBlink, pad.PromptTurnLeft, pad.PromptTurnRight}

// ParsePrompts reads a comma-separated list of strict liveness prompts
// (blink, turn_left, turn_right) for Config.Prompts.
func ParsePrompts(list string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, checkPrompts(out)
}

// checkPrompts accepts a prompt pool only if every challenge drawn from it
// keeps strict's guarantees: challengeSteps distinct known prompts, and at
// least one of them a head turn (the three-dimensional check) whatever is
// drawn — so at most one prompt may be a blink.
func checkPrompts(pool []string) error {
	seen := map[string]bool{}
	turns := 0
	for _, p := range pool {
		if !slices.Contains(challengePrompts[:], p) || seen[p] {
			return fmt.Errorf("%q is unknown or repeated (use %s)", p, strings.Join(challengePrompts[:], ", "))
		}
		seen[p] = true
		if p != pad.PromptBlink {
			turns++
		}
	}
	if len(pool) < challengeSteps || turns == 0 {
		return fmt.Errorf("at least %d prompts, one of them a turn", challengeSteps)
	}
	return nil
}

// drawPrompts returns n distinct prompts of pool in random order
// (Fisher–Yates with crypto/rand).
func drawPrompts(pool []string, n int) []string {
	p := append([]string(nil), pool...)
	for i := len(p) - 1; i > 0; i-- {
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		p[i], p[j.Int64()] = p[j.Int64()], p[i]
	}
	return p[:min(n, len(p))]
}

// startChallenge gives the first of n random prompts from pool. The good
// frames facing the camera are the reference a turn is compared with.
func (ss *session) startChallenge(pool []string, n int) {
	var ref []engine.Landmarks
	for _, g := range ss.good {
		if math.Abs(float64(g.yaw)) < pad.FrontalDegrees {
			ref = append(ref, g.landmarks)
		}
	}
	ss.phase = phaseChallenge
	ss.chal = pad.NewChallenge(drawPrompts(pool, n), ref, ss.s.cfg.Now())
}

// challengeFrame advances the challenge with one frame.
func (ss *session) challengeFrame(ctx context.Context, f *engine.Face) (map[string]any, bool, *failure) {
	// The person following the prompts must be the one who was checked:
	// every frame, the turned ones too — a still of one person answered by
	// the turned head of another is refused here (TestChallengeByAnotherFace).
	if !sameFaceComparable(f) {
		return ss.guideMsg(ss.chal.Current()), false, nil
	}
	if !engine.Matches(engine.Similarity(f.Embedding, ss.template)) {
		return nil, false, ss.padFailure(ctx, pad.ReasonMixed)
	}
	st, why := ss.chal.Observe(pad.Observation{Landmarks: f.Landmarks, Yaw: f.Quality.Yaw, EyesOpen: f.EyesOpen, At: ss.frameAt})
	switch st {
	case pad.Failed:
		return nil, false, ss.padFailure(ctx, why)
	case pad.Passed:
		ss.phase = phaseCapture
		return ss.conclude(ctx)
	}
	return ss.guideMsg(ss.chal.Current()), false, nil
}

// sameFaceComparable reports whether a challenge frame's face is turned
// little enough for its embedding to be compared with the template; the
// session ignores the others.
func sameFaceComparable(f *engine.Face) bool {
	return math.Abs(float64(f.Quality.Yaw)) <= sameFaceMaxYaw
}

// padFailure ends the session as a presentation attack: FACEIO 5, the
// signal named in the log (never a score), and one more failure for the
// client address's liveness limit.
//
// Frames of different faces (pad.ReasonMixed) are answered with
// FACE_MISMATCH, as a challenge frame of another face is: two people
// taking turns learn what went wrong; a program interleaving a still with
// a live camera is counted all the same.
func (ss *session) padFailure(ctx context.Context, signal string) *failure {
	ss.log.Info("liveness refused", "signal", signal)
	if err := ss.s.padLim.fail(ctx, ss.app.ID, ss.clientIP); err != nil {
		ss.log.Error("counting a failed liveness check", "err", err)
	}
	if signal == pad.ReasonMixed {
		return fail(likeness.FioFaceMismatch, "The frames show different faces.", nil)
	}
	return fail(likeness.FioPADAttack, "The liveness check failed.", nil)
}
