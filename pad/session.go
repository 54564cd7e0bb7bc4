package pad

import (
	"math"
	"sort"

	"github.com/likeness/likeness/engine"
)

// A face that does not move at all between frames — a photo held still, a
// replayed still image — is an attack outright: a live face in front of a
// camera always shows micro-motion and sensor noise.
const (
	// staticMotion is the mean landmark displacement between consecutive
	// frames, as a fraction of the eye distance, below which the face is
	// taken as static.
	staticMotion = 0.004
	// staticSimilarity is the mean similarity between consecutive frames'
	// embeddings above which frames are taken as copies of one image.
	staticSimilarity = 0.995
)

// Reasons of Decide besides Judge's.
const (
	ReasonPassive = "passive" // the single-image model refuses most frames
	ReasonStatic  = "static"  // the frames are copies of one image
	ReasonMixed   = "mixed"   // the frames show different faces
)

// SameFace reports whether the frames show one face: every frame's
// embedding matches (engine.Matches) at least half of the other frames'.
// A stream that interleaves frames of two faces — a still of one person
// with a live camera of another, the live frames bringing motion and
// texture, the still the identity — is refused by it, whatever the mix:
// the frames of whichever face is fewer match fewer than half of the
// others. Without it the session's template, the mean of every frame,
// lies between the two faces and matches the still's person. Not each
// frame against the mean, because the mean of such a mix is close to
// both; not every pair, because one person's head turned far one way and
// then the other can fall under the threshold (its frames still match
// the frames facing the camera, which are most of them).
func SameFace(frames []Frame) bool {
	n := len(frames)
	matched := make([]int, n) // each pair is compared once, counted for both
	for i := range frames {
		for j := i + 1; j < n; j++ {
			if engine.Matches(engine.Similarity(frames[i].Embedding, frames[j].Embedding)) {
				matched[i]++
				matched[j]++
			}
		}
	}
	for _, m := range matched {
		if 2*m < n-1 {
			return false
		}
	}
	return true
}

// Decide is the liveness decision over a session's frames: frames of
// different faces (ReasonMixed), the passive model's median and a
// two-thirds vote over the scored frames (ReasonPassive), identical frames
// (ReasonStatic), then Judge on the frames' motion and timing.
func Decide(frames []Frame, maxFPS int) (Verdict, string) {
	n := len(frames)
	if n == 0 {
		return Inconclusive, ""
	}
	if !SameFace(frames) {
		return Attack, ReasonMixed
	}
	scores := make([]float64, 0, n)
	votes := 0
	for _, f := range frames {
		if f.Unscored {
			continue
		}
		scores = append(scores, float64(f.Liveness))
		if engine.IsLive(f.Liveness) {
			votes++
		}
	}
	if len(scores) == 0 {
		return Inconclusive, ""
	}
	sort.Float64s(scores)
	if scores[len(scores)/2] < float64(engine.LivenessThreshold) || votes*3 < len(scores)*2 {
		return Attack, ReasonPassive
	}
	if n < 2 {
		return Inconclusive, ""
	}
	var motion, sim float64
	for i := 1; i < n; i++ {
		motion += landmarkMotion(&frames[i-1].Landmarks, &frames[i].Landmarks)
		sim += float64(engine.Similarity(frames[i-1].Embedding, frames[i].Embedding))
	}
	motion /= float64(n - 1)
	sim /= float64(n - 1)
	if motion < staticMotion && sim > staticSimilarity {
		return Attack, ReasonStatic
	}
	return Judge(Measure(frames), maxFPS)
}

// landmarkMotion is the mean displacement of the landmarks from a to b, in
// a's eye distances.
func landmarkMotion(a, b *engine.Landmarks) float64 {
	var d float64
	for k := range a {
		d += math.Hypot(float64(a[k].X-b[k].X), float64(a[k].Y-b[k].Y))
	}
	return d / float64(len(a)) / interOcular(a)
}

// Action is what a session does after a new usable frame.
type Action int

// Actions.
const (
	Collect Action = iota // keep collecting frames
	Refuse                // a presentation attack: FACEIO 5
	Accept                // live: go on to recognition
	Prompt                // ask for prompts (pool and count are the caller's), then go on
)

// Next is the session's liveness step after a new usable frame, over the
// newest frames (at most MaxFrames): wait until need frames (and Enough)
// are there; refuse an Attack; in strict liveness, or when the frames stay
// planar for PassiveWait, challenge; otherwise accept. The string is the
// refusal reason for the log.
func Next(frames []Frame, need, maxFPS int, strict bool) (Action, string) {
	if len(frames) < need || !Enough(frames) {
		return Collect, ""
	}
	v, why := Decide(frames, maxFPS)
	switch {
	case v == Attack:
		return Refuse, why
	case strict:
		return Prompt, ""
	case v == Inconclusive && frames[len(frames)-1].At.Sub(frames[0].At) < PassiveWait:
		return Collect, "" // natural motion may still show
	case v == Inconclusive:
		// Explained by one planar motion, with no parallax: a print, a
		// screen or a still — or a person who kept perfectly still. Only a
		// three-dimensional turn, asked for now, tells them apart.
		return Prompt, why
	}
	return Accept, ""
}
