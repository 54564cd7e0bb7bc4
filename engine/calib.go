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
// (1 to 2 in a million from 0.55 to 0.70, 1 in 3.4 million from 0.74 to
// 0.85, 1 in 10 million at 0.95) made of twins (James and Oliver Phelps,
// 0.55), lookalikes, group photos whose largest face is the other person,
// and the same photo filed under two names (0.87 to 0.99). Twins,
// relatives and lookalikes exist among real users, and nothing in a face
// tells a twin from the person, so the model keeps that plateau instead of
// pretending the tail is Gaussian: above 0.50 the rate falls by at most a
// factor of ten for every tailDecade of similarity (measured between 0.44
// and 0.50: a factor of ten every 0.064), never below plateauRate before
// plateauEnd, and never below twinRate at all. With the margin this means
// the face alone can meet a 1e-4 target only up to about 330 enrolled
// faces; beyond, a second factor does (package identify).
//
// Safety margin: every measured rate is multiplied by margin(s). Where the
// table is dense (up to 0.46, ≥ 483 impostors at or above each point) the
// margin is 1.5: splitting the set by person into halves and quarters moves
// the rate at 0.38–0.46 by at most 1.41× (1.32e-4 against 9.4e-5 at 0.42),
// and the change from press photos to the webcam-like frames of
// ../shared/faces is smaller (impostor mean 0.001, standard
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

// Safety margins (see above): denseMargin where the table is dense,
// rising linearly to tailMargin at the table's end and beyond, where the
// tail is extrapolated.
const (
	denseMargin = 1.5
	tailMargin  = 3
	denseEnd    = 0.46
)

// margin is the safety margin at similarity s.
func margin(s float64) float64 {
	last := impostorTail[len(impostorTail)-1].s
	switch {
	case s <= denseEnd:
		return denseMargin
	case s >= last:
		return tailMargin
	}
	return denseMargin + (tailMargin-denseMargin)*(s-denseEnd)/(last-denseEnd)
}

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
	// twinRate is the rate the tail never falls below: the pairs of
	// different people as alike as one person (9.8e-8 measured at 0.95).
	twinRate = 1e-7
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
		r = math.Max(twinRate, plateauRate*math.Pow(10, -(s-plateauEnd)/tailDecade))
	}
	return math.Min(1, margin(s)*r)
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
