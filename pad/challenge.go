package pad

import (
	"math"
	"time"

	"github.com/likeness/likeness/engine"
)

// Active challenge prompts.
const (
	PromptBlink     = "blink"
	PromptTurnLeft  = "turn_left"
	PromptTurnRight = "turn_right"
)

// The active challenge's numbers.
const (
	// StepFor is the time to complete each prompt, from when it is given.
	StepFor = 10 * time.Second
	// TurnDegrees is the yaw a turn must reach (engine pose, + is the
	// subject's own left).
	TurnDegrees = 18
	// FrontalDegrees: a turn counts only after the head was seen facing the
	// camera (|yaw| below this) after the prompt, so a head already turned
	// when the prompt came — a recording — does not meet it.
	FrontalDegrees = 9
	// EyeOpen and EyeClosed are the eye-open probabilities of an open and a
	// closed eye for a blink.
	EyeOpen   = 0.7
	EyeClosed = 0.3
	// maxRef bounds the frontal reference frames a turn is compared with.
	maxRef = 12
)

// Observation is what the challenge needs of one frame.
type Observation struct {
	Landmarks engine.Landmarks
	Yaw       float32
	EyesOpen  [2]float32
	At        time.Time // server receive time
}

// Status is the state of a challenge after an observation.
type Status int

// Challenge statuses.
const (
	Pending  Status = iota // the current prompt is not met yet
	Advanced               // a prompt was met; the next one is current
	Passed                 // every prompt was met
	Failed                 // refuse: a presentation attack (FACEIO 5)
)

// Reasons a challenge fails, for the log.
const (
	ReasonTimeout   = "challenge_timeout"
	ReasonWrongTurn = "wrong_turn" // a turn that was not asked for: not following the prompts
	ReasonFlatTurn  = "flat_turn"  // the turn is explained by a planar motion
)

// Challenge checks that a head follows random prompts, after they are
// given, in three dimensions. It is not safe for concurrent use.
type Challenge struct {
	steps    []string
	done     int
	promptAt time.Time
	ref      []engine.Landmarks
	frontal  bool // seen facing the camera since the prompt
	sawOpen  bool
	sawShut  bool
}

// NewChallenge starts a challenge of steps (drawn at random by the caller)
// given at now. ref are landmarks of frontal frames of the same session
// from before the prompt: a turn is compared with them (and with frontal
// frames seen after it).
func NewChallenge(steps []string, ref []engine.Landmarks, now time.Time) *Challenge {
	c := &Challenge{steps: append([]string(nil), steps...), promptAt: now}
	if len(ref) > maxRef {
		ref = ref[len(ref)-maxRef:]
	}
	c.ref = append(c.ref, ref...)
	return c
}

// Current is the prompt being asked for ("" once passed).
func (c *Challenge) Current() string {
	if c.done >= len(c.steps) {
		return ""
	}
	return c.steps[c.done]
}

// Progress is the share of prompts met, 0–1.
func (c *Challenge) Progress() float64 {
	return float64(c.done) / float64(max(1, len(c.steps)))
}

// Deadline is when the current prompt must be met by.
func (c *Challenge) Deadline() time.Time { return c.promptAt.Add(StepFor) }

// Observe advances the challenge with one frame and returns the status and,
// when Failed, the reason.
func (c *Challenge) Observe(o Observation) (Status, string) {
	if c.done >= len(c.steps) {
		return Passed, ""
	}
	if o.At.After(c.Deadline()) {
		return Failed, ReasonTimeout
	}
	if o.At.Before(c.promptAt) {
		return Pending, "" // sent before the prompt: it cannot answer it
	}
	yaw := float64(o.Yaw)
	if math.Abs(yaw) < FrontalDegrees {
		c.frontal = true
		if len(c.ref) < 2*maxRef {
			c.ref = append(c.ref, o.Landmarks)
		}
	}
	want := c.Current()
	turnedLeft, turnedRight := yaw >= TurnDegrees, yaw <= -TurnDegrees
	switch {
	case (turnedLeft || turnedRight) && !c.frontal:
		// Turned since before the prompt (still returning from the last
		// one, or a recording): wait for the head to face the camera.
		return Pending, ""
	case turnedLeft && want != PromptTurnLeft, turnedRight && want != PromptTurnRight:
		return Failed, ReasonWrongTurn
	case turnedLeft || turnedRight:
		if !TurnIs3D(c.ref, &o.Landmarks) {
			return Failed, ReasonFlatTurn
		}
		return c.advance(o.At), ""
	case want == PromptBlink:
		open := min(o.EyesOpen[0], o.EyesOpen[1])
		switch {
		case open >= EyeOpen && c.sawShut:
			return c.advance(o.At), ""
		case open >= EyeOpen:
			c.sawOpen = true
		case open <= EyeClosed && c.sawOpen:
			c.sawShut = true
		}
	}
	return Pending, ""
}

func (c *Challenge) advance(now time.Time) Status {
	c.done++
	c.promptAt, c.frontal, c.sawOpen, c.sawShut = now, false, false, false
	if c.done == len(c.steps) {
		return Passed
	}
	return Advanced
}
