// Package identify decides who a probe face is in an application's
// collection: the one open-set identification decision that the widget's
// authenticate and the REST API's identify both call.
//
// The decision is a pure function (Decide) of measured inputs — the best
// matches, the gallery size N, the application's settings — and the
// engine's calibrated impostor tail (engine.FalseMatchRate). A face alone is
// accepted only when the calibrated chance that a person who never enrolled
// clears the threshold against any of the N faces stays within the
// application's target (maxFalseAcceptRate); the threshold therefore rises
// with N. Below it, a second factor — the PIN, or an identifier the site
// passes that turns 1:N into 1:1 — may complete the login; without one the
// answer is no match, never a guess.
package identify

import (
	"math"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
)

// Kind is the outcome of an identification.
type Kind string

// Outcomes. They are the whole reply of the REST API's identify: no score
// and no candidate list ever leaves the server.
const (
	Match        Kind = "match"         // the face (with its second factor, if any) identifies one person
	SecondFactor Kind = "second_factor" // the face narrowed it down; a PIN must finish it
	NoMatch      Kind = "no_match"      // nobody, or nobody the face alone may be trusted for
)

// Decision constants, each with the reason for its value.
const (
	// MaxCandidates is the most faces a PIN is checked against in one
	// attempt: each check is an argon2id hash, and every extra candidate is
	// one more PIN an impostor may hit.
	MaxCandidates = 3
	// PINTries is how many PINs the widget accepts in one attempt (the REST
	// API takes one per request). Failures also count towards the per-face
	// lockout (Settings.MaxFailedAuth).
	PINTries = 3
	// weakPINFactor is how much more likely a guessed PIN is than a uniform
	// draw when the application accepts weak PINs: "1234" alone is about
	// one PIN in ten people choose, so the PIN space is counted as a hundred
	// times smaller. With weak PINs refused (the default: repeats, runs,
	// pairs and the most common choices) PINs are counted as uniform.
	weakPINFactor = 100
	// CandidateFloorFMR bounds how low a candidate threshold may go however
	// strong the PIN: a face must at least pass the 1:1 verification design
	// point (one false match in 1,000 comparisons) to be offered the PIN, so
	// that a PIN alone never logs anyone in.
	CandidateFloorFMR = engine.VerifyTargetFMR
	// FalseDuplicateRate is the target share of distinct new people the
	// duplicate check may refuse: the duplicate check is a 1:N search too, so
	// its per-comparison rate is this divided by N. The threshold stops
	// rising at DuplicateCeiling (lookalikes are then refused more often than
	// the target as N grows; docs/engine.md gives the measured rates).
	FalseDuplicateRate = 0.004
	// DuplicateCeiling is the similarity at or above which a new face is
	// always taken for an enrolled one: above every impostor pair of webcam
	// frames measured (0.551, ../shared/nuaa) and where 86% of the genuine
	// pairs of press photos lie (../shared/lfw).
	DuplicateCeiling float32 = 0.56
	// SecondFactorShare is the share of genuine face-only logins expected to
	// fall below the face-only threshold at which the console and the
	// settings API say a second factor is required at this gallery size.
	SecondFactorShare = 0.2
)

// Policy is the part of an application's settings the decision reads.
type Policy struct {
	MaxFAR         float64 // target chance that a stranger is accepted in one attempt
	PIN            string  // likeness.PINOff, PINOptional or PINRequired
	PINMinLength   int
	RejectWeakPINs bool
	AlwaysAskPIN   bool
}

// PolicyOf extracts the decision's policy from an application's settings.
func PolicyOf(s *likeness.Settings) Policy {
	return Policy{MaxFAR: s.MaxFalseAcceptRate, PIN: s.PIN, PINMinLength: s.PINMinLength,
		RejectWeakPINs: s.RejectWeakPINs, AlwaysAskPIN: s.AlwaysAskPIN}
}

// pinGuess is the chance that an impostor who reaches the PIN prompt for
// one candidate finds its PIN within one attempt's tries.
func (p Policy) pinGuess() float64 {
	g := PINTries / math.Pow(10, float64(max(p.PINMinLength, 4)))
	if !p.RejectWeakPINs {
		g *= weakPINFactor
	}
	return math.Min(1, g)
}

// Never is a threshold no similarity reaches: the face alone never decides.
const Never float32 = 2

// Thresholds are the similarity thresholds of one decision.
type Thresholds struct {
	FaceOnly  float32 // at or above: the face alone identifies
	Candidate float32 // at or above: the face may be completed by a PIN
}

// ThresholdsFor returns the thresholds for a gallery of n faces. With n
// faces a stranger's probe is compared n times, so the per-comparison false
// match rate allowed is MaxFAR/n (union bound). A PIN candidate must in addition guess
// the PIN, so its per-comparison rate may be MaxFAR/(n·g) with g the chance
// of a PIN guess in one attempt, but never looser than the 1:1 design point
// CandidateFloorFMR.
func ThresholdsFor(n int, p Policy) Thresholds {
	n = max(n, 1)
	far := p.MaxFAR
	if far <= 0 || far > 1 {
		far = likeness.DefaultMaxFalseAcceptRate
	}
	face := engine.ThresholdAt(far / float64(n))
	if float64(n)*engine.FalseMatchRate(face) > far {
		face = Never // the calibration cannot promise the target at this size
	}
	cand := engine.ThresholdAt(math.Min(CandidateFloorFMR, far/(float64(n)*p.pinGuess())))
	return Thresholds{FaceOnly: face, Candidate: min(cand, face)}
}

// DuplicateThreshold is the similarity at or above which a new enrollment
// is taken for a face already among n: FalseDuplicateRate/n per comparison,
// never looser than the 1:1 design point and never above DuplicateCeiling.
func DuplicateThreshold(n int) float32 {
	return min(DuplicateCeiling,
		engine.ThresholdAt(math.Min(CandidateFloorFMR, FalseDuplicateRate/float64(max(n, 1)))))
}

// Candidate is one search hit with what the decision needs to know of it.
type Candidate struct {
	FacialID   string
	Similarity float32
	HasPIN     bool // a PIN is set for this Facial ID
	Locked     bool // locked out after too many failed attempts
}

// Input is everything one decision depends on.
type Input struct {
	// Candidates are the best matches, best first: at least the two best
	// when the gallery has two faces (the second tells whether the best is
	// ambiguous), MaxCandidates or more for the PIN path.
	Candidates []Candidate
	// GallerySize is N: the number of faces the probe was compared with
	// (the collection, or the faces one identifier scopes to).
	GallerySize int
	Policy      Policy
	// PINGiven is true when the caller already holds a PIN to check (the
	// REST API's identify with "pin", or the widget's PIN step).
	PINGiven bool
}

// Decision is the outcome of Decide with its reason (for logs and tests,
// never for the client).
type Decision struct {
	Kind     Kind
	FacialID string   // Match: who
	PINFor   []string // SecondFactor: the Facial IDs a PIN may unlock, best first
	Locked   bool     // NoMatch because the best candidate is locked out
	Reason   string
}

// Decide is the identification decision. It never returns Match for a face
// below the face-only threshold without a PIN to check, never a Match when a
// second face is as plausible, and never SecondFactor when no candidate can
// take a PIN.
func Decide(in Input) Decision {
	t := ThresholdsFor(in.GallerySize, in.Policy)
	var cands []Candidate
	for _, c := range in.Candidates {
		if c.Similarity >= t.Candidate && len(cands) < MaxCandidates {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return Decision{Kind: NoMatch, Reason: "below candidate threshold"}
	}
	if cands[0].Locked {
		return Decision{Kind: NoMatch, Locked: true, Reason: "locked out"}
	}
	best := cands[0]
	secondFace := len(in.Candidates) > 1 && in.Candidates[1].Similarity >= t.FaceOnly
	faceOnly := best.Similarity >= t.FaceOnly && !secondFace
	pinOn := in.Policy.PIN != likeness.PINOff
	askAlways := in.Policy.PIN == likeness.PINRequired || (pinOn && in.Policy.AlwaysAskPIN)
	var pinFor []string
	if pinOn {
		for _, c := range cands {
			if c.HasPIN && !c.Locked {
				pinFor = append(pinFor, c.FacialID)
			}
		}
	}
	switch {
	case faceOnly && best.HasPIN && pinOn && (askAlways || in.PINGiven):
		// The face alone would do, but the application always asks for the
		// PIN, or the caller gave one: it must be this person's.
		return Decision{Kind: SecondFactor, PINFor: []string{best.FacialID}, Reason: "pin always asked"}
	case faceOnly:
		return Decision{Kind: Match, FacialID: best.FacialID, Reason: "face alone within target"}
	case len(pinFor) > 0:
		return Decision{Kind: SecondFactor, PINFor: pinFor, Reason: "face needs a second factor"}
	case secondFace:
		return Decision{Kind: NoMatch, Reason: "ambiguous, no second factor"}
	default:
		return Decision{Kind: NoMatch, Reason: "below face-only threshold, no second factor"}
	}
}

// Estimate describes face-only login at a gallery size, for the console and
// the settings API: no threshold, only rates.
type Estimate struct {
	GallerySize int `json:"gallerySize"`
	// FaceOnlyFalseAcceptRate is the calibrated chance that a stranger is
	// accepted by the face alone in one attempt (≤ the target by design).
	FaceOnlyFalseAcceptRate float64 `json:"faceOnlyFalseAcceptRate"`
	// SecondFactorShare is the expected share of genuine logins that the
	// face alone cannot accept at this size.
	SecondFactorShare float64 `json:"secondFactorShare"`
	// SecondFactorRequired is true when that share exceeds SecondFactorShare.
	SecondFactorRequired bool `json:"secondFactorRequired"`
	// SecondFactorAvailable is false when the settings leave no way to
	// complete a login the face alone cannot (PIN off); sites may still pass
	// an identifier (externalId / facialIdHint).
	SecondFactorAvailable bool `json:"secondFactorAvailable"`
	// RecommendedLiveness is "strict" when the face alone cannot meet the
	// target at this size: a login that leans on a PIN deserves the active
	// challenge too. "standard" otherwise.
	RecommendedLiveness string `json:"recommendedLiveness"`
}

// Estimated returns the estimate for n faces under the policy.
func Estimated(n int, p Policy) Estimate {
	t := ThresholdsFor(n, p)
	share, far := 1.0, 0.0
	if t.FaceOnly < Never {
		share = engine.GenuineBelow(t.FaceOnly)
		far = math.Min(1, float64(max(n, 1))*engine.FalseMatchRate(t.FaceOnly))
	}
	e := Estimate{
		GallerySize:             n,
		FaceOnlyFalseAcceptRate: far,
		SecondFactorShare:       math.Round(share*1000) / 1000,
		SecondFactorRequired:    share > SecondFactorShare,
		SecondFactorAvailable:   p.PIN != likeness.PINOff,
		RecommendedLiveness:     likeness.LivenessStandard,
	}
	if e.SecondFactorRequired {
		e.RecommendedLiveness = likeness.LivenessStrict
	}
	return e
}
