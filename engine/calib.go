package engine

import "math"

// Calibration of the embedder's impostor tail: the chance that the
// templates of two different people reach a cosine similarity, which open-
// set identification (package identify) needs at rates far below what any
// small set can show.
//
// How it was measured: `likeness eval --identify --faces ../shared/lfw
// --json` embeds the 6,410 press photos of 2,883 people and compares every
// pair of photos of different people: 20,480,137 impostor comparisons
// (reported as impostorTail). From 0.20 to 0.50 each point below has at
// least 112 impostors at or above it, so its relative error is under 10%;
// between points the rate is interpolated log-linearly.
//
// How it is extended: above 0.50 the measured tail flattens into a plateau
// (1 to 2 in a million from 0.55 to 0.70) made of mislabelled photos (one
// person under two names), group photos whose largest face is the other
// person, twins and relatives. Lookalikes and relatives exist among real
// users too, so the model keeps that plateau instead of pretending the tail
// is Gaussian: above 0.50 the rate falls by at most a factor of ten for
// every tailDecade of similarity (measured between 0.44 and 0.50: a factor
// of ten every 0.064), and never below the plateau floor until plateauEnd.
//
// Safety margin: every rate is multiplied by calibrationMargin (3), which
// covers the spread between halves of a data set of this size (the held-out
// half of the same set differs by up to 2× at 1e-5 when the set is split by
// person) and the change from press photos to webcam frames measured on
// ../shared/faces (same distribution as LFW: impostor mean 0.001, standard
// deviation 0.096). Webcam frames taken in poor light (../shared/nuaa, only
// 5 people) run higher (impostor mean 0.18, maximum 0.551 over 144,000
// comparisons of 10 pairs of people), while one live webcam session of one
// person (../shared/faces/video) has single frames as low as 0.48 against
// its own enrollment: the two overlap, so no fixed floor can separate them.
// Five people are too few to calibrate a tail on; the widget's defences for
// that case are the frame averaging of its templates, liveness, and the
// second factor that the gallery size brings in (docs/engine.md).
//
// The tables are constants of this model (fr_feature.onnx): a different
// embedder needs a new calibration.

// calibrationMargin multiplies every measured rate (see above).
const calibrationMargin = 3

// tailDecade is the similarity over which the extrapolated tail falls by a
// factor of ten (shallower than the measured 0.064 between 0.44 and 0.50).
const tailDecade = 0.08

// plateauRate and plateauEnd: the measured rate of lookalike and mislabelled
// pairs (1.4e-6 at 0.60, 7.3e-7 at 0.70, 2.9e-7 from 0.77 to 0.85); the
// model never falls below plateauRate before plateauEnd, then falls with
// tailDecade again.
const (
	plateauRate = 7e-7
	plateauEnd  = 0.72
)

// impostorTail is P(similarity ≥ s) for two different people, measured
// (before the margin).
var impostorTail = [...]struct{ s, rate float64 }{
	{0.20, 2.961e-02}, {0.22, 1.946e-02}, {0.24, 1.254e-02}, {0.26, 7.925e-03},
	{0.28, 4.914e-03}, {0.30, 2.994e-03}, {0.32, 1.787e-03}, {0.34, 1.049e-03},
	{0.36, 5.976e-04}, {0.38, 3.316e-04}, {0.40, 1.776e-04}, {0.42, 9.375e-05},
	{0.44, 4.790e-05}, {0.46, 2.358e-05}, {0.48, 1.113e-05}, {0.50, 5.469e-06},
}

// genuineBelow is P(similarity < s) for two photos of the same person,
// measured on the same set (60,708 genuine pairs of press photos; webcam
// frames of one session score higher).
var genuineBelow = [...]struct{ s, rate float64 }{
	{0.20, 0.0046}, {0.25, 0.0067}, {0.30, 0.0099}, {0.35, 0.0160}, {0.40, 0.0287},
	{0.45, 0.0497}, {0.50, 0.0851}, {0.55, 0.1397}, {0.60, 0.2332}, {0.65, 0.3658},
	{0.70, 0.5411}, {0.75, 0.7407}, {0.80, 0.9065}, {0.85, 0.9830}, {0.90, 0.9987},
	{0.95, 0.9999}, {1.00, 1},
}

// FalseMatchRate is the calibrated chance, margin included, that the
// templates of two different people reach similarity sim.
func FalseMatchRate(sim float32) float64 {
	s := float64(sim)
	first, last := impostorTail[0], impostorTail[len(impostorTail)-1]
	var r float64
	switch {
	case s <= first.s:
		// Below the table the tail is of no use to a decision: bound it by
		// the first point's rate, growing towards 1.
		r = math.Min(1, first.rate*math.Pow(10, (first.s-s)/0.2))
	case s <= last.s:
		i := 1
		for impostorTail[i].s < s {
			i++
		}
		a, b := impostorTail[i-1], impostorTail[i]
		f := (s - a.s) / (b.s - a.s)
		r = math.Pow(10, math.Log10(a.rate)+f*(math.Log10(b.rate)-math.Log10(a.rate)))
	case s <= plateauEnd:
		r = math.Max(plateauRate, last.rate*math.Pow(10, -(s-last.s)/tailDecade))
	default:
		r = plateauRate * math.Pow(10, -(s-plateauEnd)/tailDecade)
	}
	return math.Min(1, calibrationMargin*r)
}

// ThresholdAt returns the lowest similarity whose calibrated false-match
// rate is at most fmr (to 0.001), capped at 1.
func ThresholdAt(fmr float64) float32 {
	lo, hi := float32(-1), float32(1)
	if FalseMatchRate(hi) > fmr {
		return 1
	}
	for hi-lo > 0.0005 {
		mid := (lo + hi) / 2
		if FalseMatchRate(mid) <= fmr {
			hi = mid
		} else {
			lo = mid
		}
	}
	return float32(math.Ceil(float64(hi)*1000) / 1000)
}

// GenuineBelow is the measured share of genuine comparisons (two press
// photos of one person) below sim: the share of logins a threshold at sim
// sends to the second factor. For estimates shown to site owners only.
func GenuineBelow(sim float32) float64 {
	s := float64(sim)
	if s <= genuineBelow[0].s {
		return genuineBelow[0].rate * math.Max(0, 1+s-genuineBelow[0].s)
	}
	for i := 1; i < len(genuineBelow); i++ {
		if s <= genuineBelow[i].s {
			a, b := genuineBelow[i-1], genuineBelow[i]
			return a.rate + (s-a.s)/(b.s-a.s)*(b.rate-a.rate)
		}
	}
	return 1
}
