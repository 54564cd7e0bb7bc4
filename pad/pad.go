package pad

import (
	"time"

	"github.com/likeness/likeness/engine"
)

// Frame is what the decision needs of one usable camera frame. It lives only
// in memory for one session: never logged or stored.
type Frame struct {
	Landmarks engine.Landmarks
	At        time.Time // when the server received the frame (its injected clock)
	Liveness  float32   // the passive model's probability of live
	// Unscored says the passive model did not run on this frame (Scored):
	// Liveness is then meaningless and Decide leaves the frame out of its
	// vote. Every other measure uses every frame.
	Unscored  bool
	Embedding []float32 // the face embedding (unit length)
	// Patch is the face's texture (engine.FacePatch of the frame and the
	// face's box), for TextureParallax; the zero Patch is none.
	Patch engine.Patch
	// Memo, when not nil, is where TextureParallax keeps what it found for
	// this frame (the caller keeps it with the frame across calls): a
	// session decides again on every new frame, and each frame is then
	// aligned once instead of once a decision. Nil computes everything.
	Memo *TextureMemo
}

// Scored reports whether the passive liveness model runs on a session's
// usable frame number n (from 0): every other one. Detection, landmarks
// and the embedding run on every usable frame — the geometry needs every
// frame, and so does the same-face rule (SameFace: a frame whose face was
// not compared could be anyone's). The passive model's vote only needs a
// sample of the frames, all of one face: half of them halves its cost (a
// quarter of a frame's model time) without letting a sender choose what
// it sees, since every frame of the session is the same face.
func Scored(n int) bool { return n%2 == 0 }

// The numbers of the decision. How each was chosen is stated with it and in
// docs/engine.md ("flat things move as one plane"); they were measured with
// the 68-point model of engine/ on ../shared/faces, ../shared/nuaa and
// stills generated from them (eval.StillAttack), never fitted file by file.
const (
	// MinSpan is the least time, by the server's receive times, between the
	// first and the last frame a decision uses: one second of a camera.
	MinSpan = time.Second
	// MinFrames is the least number of frames a decision uses: the median of
	// pairwise measures needs a handful of frames to be stable (6 frames
	// give 15 pairs).
	MinFrames = 6
	// MaxFrames bounds the frames kept for a decision (the newest are kept):
	// 3 s at the widget's 10 frames a second (31 frames span PassiveWait).
	MaxFrames = 31
	// PassiveWait is how long frames that look planar are collected, in
	// the hope of natural motion, before the session asks for a turn:
	// three seconds, MaxFrames at the widget's 10 frames a second — the
	// sway of a person sitting still (Parallax) needs that long to stand
	// out of the landmark model's jitter (docs/engine.md).
	PassiveWait = 3 * time.Second

	// PlanarTolerance is the session non-planarity (the median, over every
	// pair of frames, of NonPlanarity) below which the frames are explained
	// by one planar motion of one image.
	//
	// How it was chosen: on stills, not on live faces. Sessions of stills
	// moved, scaled, rotated, tilted, re-encoded, noised and flickered
	// (eval.StillAttack from every live clip and one photo per identity of
	// ../shared/faces and ../shared/nuaa; `likeness eval --pad`, the
	// sessions' nonPlanarity) stay at the landmark model's jitter: at most
	// 0.016 of the eye distance on NUAA and 0.025 on the faces set; the
	// tolerance keeps a 20 % margin above the largest. Moving live heads are
	// far above it (a talking head 0.08); people who sit perfectly still
	// are not: their sway shows in Parallax instead, or they are asked to
	// turn (PassiveWait).
	PlanarTolerance = 0.03
	// TurnTolerance is the non-planarity a prompted head turn must show
	// against the frontal frames: a real head turned by 18° moves the nose
	// against the face outline; a tilted print moves them together. Above
	// every pair of frames of a still moved by every
	// generated species (at most 0.040), below every turned frame of the
	// live clip (0.121–0.190); `go test ./server -run TurnsAreThreeDimensional -v`.
	TurnTolerance = 0.05
	// ParallaxTolerance is the Parallax at or above which frames that are
	// otherwise planar within PlanarTolerance show a three-dimensional
	// head: the nose moved against the eye and mouth corners.
	//
	// How it was chosen: on stills, like PlanarTolerance. Over every window
	// of 11 to 31 consecutive frames (1–3 s at 10 fps, looping as the
	// session does) of every generated still session of ../shared/faces and
	// ../shared/nuaa and of NUAA's hand-held print clips, the largest
	// Parallax was 0.0225 (a 450-pixel-wide press photo whose nose points
	// flip between two solutions of the landmark model); the tolerance
	// keeps a 20 % margin above it. NUAA's live clips of people sitting
	// still reach 0.024–0.073 within 3 s (docs/engine.md).
	ParallaxTolerance = 0.027
	// TextureParallaxTolerance is the TextureParallax at or above which
	// frames that are otherwise planar show a three-dimensional head.
	//
	// How it was chosen: on attacks, like ParallaxTolerance. Over every
	// window of 11 to 31 consecutive frames of every generated still
	// session of ../shared/faces and ../shared/nuaa and of NUAA's hand-held
	// print clips, the largest TextureParallax was 0.0080 (a print clip;
	// generated stills at most 0.0041); the tolerance keeps a 50 % margin
	// above it. NUAA's live clips of people sitting still reach 0.019–0.028
	// within 3 s, the moving ones 0.046–0.096 (docs/engine.md).
	TextureParallaxTolerance = 0.012
)

// MinGap is the median time between received frames below which frames are
// a burst, not a camera: half the frame interval the server allows
// (maxFPS frames a second; 50 ms at the default 10).
func MinGap(maxFPS int) time.Duration {
	return time.Second / time.Duration(2*max(1, maxFPS))
}

// Reasons a session is refused, for the log (never for the client).
const (
	ReasonBurst  = "burst"  // frames arrived faster than a camera sends them
	ReasonPlanar = "planar" // one planar motion of one image explains every frame
)

// Evidence is what the frames of a session show.
type Evidence struct {
	Frames       int
	Span         time.Duration // first to last receive time
	MedianGap    time.Duration // between consecutive receive times
	NonPlanarity float64       // median over frame pairs of NonPlanarity
	Parallax     float64       // Parallax of the frames
	// TextureParallax is TextureParallax of the frames, computed only
	// when NonPlanarity and Parallax are both under their tolerances (0
	// otherwise, and without patches).
	TextureParallax float64
}

// Enough reports whether frames are enough evidence for a decision: at
// least MinFrames frames spanning at least MinSpan.
func Enough(frames []Frame) bool {
	return len(frames) >= MinFrames && frames[len(frames)-1].At.Sub(frames[0].At) >= MinSpan
}

// Measure computes the evidence of frames (in receive order).
func Measure(frames []Frame) Evidence {
	e := Evidence{Frames: len(frames)}
	if len(frames) < 2 {
		return e
	}
	e.Span = frames[len(frames)-1].At.Sub(frames[0].At)
	gaps := make([]float64, 0, len(frames)-1)
	for i := 1; i < len(frames); i++ {
		gaps = append(gaps, float64(frames[i].At.Sub(frames[i-1].At)))
	}
	e.MedianGap = time.Duration(quantile(gaps, 0.5))
	var np []float64
	for i := range frames {
		for j := i + 1; j < len(frames); j++ {
			np = append(np, NonPlanarity(&frames[i].Landmarks, &frames[j].Landmarks))
		}
	}
	e.NonPlanarity = quantile(np, 0.5)
	ls := make([]engine.Landmarks, len(frames))
	for i := range frames {
		ls[i] = frames[i].Landmarks
	}
	e.Parallax = Parallax(ls)
	if e.NonPlanarity < PlanarTolerance && e.Parallax < ParallaxTolerance {
		// Only when the landmarks show no depth: it costs a few
		// milliseconds a frame.
		e.TextureParallax = TextureParallax(frames)
	}
	return e
}

// Verdict is the outcome of Judge.
type Verdict int

// Verdicts.
const (
	Live         Verdict = iota // the frames show a three-dimensional, live head
	Attack                      // refuse: a presentation attack (FACEIO 5)
	Inconclusive                // planar within tolerance: ask for an active turn before deciding
)

// Judge decides on evidence that Enough frames produced, with the server's
// frame-rate limit. A burst is an attack; a session that is planar (within
// PlanarTolerance) and whose nose does not move against the face plane
// (Parallax below ParallaxTolerance) is Inconclusive — the caller must then
// see a three-dimensional prompted turn (TurnIs3D) or refuse; anything else
// is Live as far as geometry can tell (the passive model judges the pixels
// separately).
func Judge(e Evidence, maxFPS int) (Verdict, string) {
	switch {
	case e.Frames >= 2 && e.MedianGap < MinGap(maxFPS):
		return Attack, ReasonBurst
	case e.NonPlanarity < PlanarTolerance && e.Parallax < ParallaxTolerance &&
		!(e.TextureParallax >= TextureParallaxTolerance): // NaN is no evidence
		return Inconclusive, ReasonPlanar
	}
	return Live, ""
}

// TurnIs3D reports whether a frame that met a head-turn prompt is a turned
// three-dimensional head rather than a flat image tilted: the median of its
// NonPlanarity against each frontal reference frame must reach
// TurnTolerance. With no reference it is false.
func TurnIs3D(ref []engine.Landmarks, turned *engine.Landmarks) bool {
	if len(ref) == 0 {
		return false
	}
	v := make([]float64, len(ref))
	for i := range ref {
		v[i] = NonPlanarity(&ref[i], turned)
	}
	return quantile(v, 0.5) >= TurnTolerance
}
