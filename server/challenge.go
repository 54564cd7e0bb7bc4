package server

import (
	"context"
	"crypto/rand"
	"math"
	"math/big"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
)

// The strict liveness challenge: after the passive checks, the user follows
// two prompts drawn at random from blink, turn left and turn right. A
// recording or a mask cannot know the prompts in advance.
const (
	challengeSteps   = 2
	challengeStepFor = 10 * time.Second // time to complete each prompt
	turnDegrees      = 18               // yaw a turn must reach
	eyeOpen          = 0.7              // eye-open probability of an open eye
	eyeClosed        = 0.3              // …and of a closed one
	sameFaceMaxYaw   = 25               // frames turned further are not compared with the template
)

type challenge struct {
	steps    []string
	done     int
	deadline time.Time
	sawOpen  bool
	sawShut  bool
}

// challengePrompts are the prompts a challenge draws from.
var challengePrompts = [...]string{"blink", "turn_left", "turn_right"}

func newChallenge(now time.Time, prompts []string) *challenge {
	pool := append([]string(nil), prompts...)
	for i := len(pool) - 1; i > 0; i-- { // Fisher–Yates with crypto/rand
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		pool[i], pool[j.Int64()] = pool[j.Int64()], pool[i]
	}
	return &challenge{steps: pool[:min(challengeSteps, len(pool))], deadline: now.Add(challengeStepFor)}
}

func (c *challenge) current() string { return c.steps[c.done] }

// met reports whether a face fulfils the current prompt. Yaw is positive
// when the person turns to their own left (frames are not mirrored).
func (c *challenge) met(f *engine.Face) bool {
	switch c.current() {
	case "blink":
		open := min(f.EyesOpen[0], f.EyesOpen[1])
		switch {
		case open >= eyeOpen && c.sawShut:
			return true
		case open >= eyeOpen:
			c.sawOpen = true
		case open <= eyeClosed && c.sawOpen:
			c.sawShut = true
		}
		return false
	case "turn_left":
		return f.Quality.Yaw >= turnDegrees
	default:
		return f.Quality.Yaw <= -turnDegrees
	}
}

// challengeFrame advances the challenge with one frame.
func (ss *session) challengeFrame(ctx context.Context, f *engine.Face) (map[string]any, bool, *failure) {
	c := ss.chal
	now := ss.s.cfg.Now()
	if now.After(c.deadline) {
		ss.log.Info("liveness refused", "signal", "challenge")
		return nil, false, fail(likeness.FioPADAttack, "The liveness check failed.", nil)
	}
	// The person following the prompts must be the one who was checked.
	// Embeddings of a strongly turned head drift, so only near-frontal
	// frames are compared.
	if math.Abs(float64(f.Quality.Yaw)) <= sameFaceMaxYaw && !engine.Matches(engine.Similarity(f.Embedding, ss.template)) {
		return nil, false, fail(likeness.FioFaceMismatch, "The frames show different faces.", nil)
	}
	if c.met(f) {
		c.done++
		c.sawOpen, c.sawShut = false, false
		c.deadline = now.Add(challengeStepFor)
		if c.done == len(c.steps) {
			ss.phase = phaseCapture
			return ss.conclude(ctx)
		}
	}
	return ss.guideMsg(c.current()), false, nil
}
