package identify

import (
	"testing"

	"github.com/likeness/likeness"
)

func TestThresholdsRiseWithGallery(t *testing.T) {
	p := Policy{MaxFAR: 1e-4, PIN: likeness.PINOptional, PINMinLength: 4, RejectWeakPINs: true}
	prev := ThresholdsFor(1, p)
	for _, n := range []int{10, 100, 1000, 10000, 100000, 10000000} {
		cur := ThresholdsFor(n, p)
		if cur.FaceOnly < prev.FaceOnly || cur.Candidate < prev.Candidate {
			t.Fatalf("n=%d: thresholds fell: %+v after %+v", n, cur, prev)
		}
		if cur.Candidate > cur.FaceOnly {
			t.Fatalf("n=%d: candidate threshold above face-only: %+v", n, cur)
		}
		prev = cur
	}
	// A stricter target or weak PINs never lower a threshold.
	strict := p
	strict.MaxFAR = 1e-6
	weak := p
	weak.RejectWeakPINs = false
	for _, n := range []int{1, 100, 10000} {
		base, s, w := ThresholdsFor(n, p), ThresholdsFor(n, strict), ThresholdsFor(n, weak)
		if s.FaceOnly < base.FaceOnly || s.Candidate < base.Candidate || w.Candidate < base.Candidate {
			t.Errorf("n=%d: base %+v strict %+v weak PINs %+v", n, base, s, w)
		}
	}
	if th := ThresholdsFor(1, p); th.FaceOnly < 0.40 {
		t.Errorf("face-only threshold %.3f at N=1 looser than the calibrated 1:1 point", th.FaceOnly)
	}
	if ThresholdsFor(1000, p).FaceOnly != Never {
		t.Error("at 1,000 faces the face alone must never decide at 1e-4 (the rate of twins forbids it)")
	}
}

func TestDecide(t *testing.T) {
	const n = 200
	opt := Policy{MaxFAR: 1e-4, PIN: likeness.PINOptional, PINMinLength: 4, RejectWeakPINs: true}
	off := opt
	off.PIN = likeness.PINOff
	req := opt
	req.PIN = likeness.PINRequired
	always := opt
	always.AlwaysAskPIN = true
	th := ThresholdsFor(n, opt)
	hi := th.FaceOnly + 0.05
	mid := (th.FaceOnly + th.Candidate) / 2
	lo := th.Candidate - 0.05
	c := func(id string, s float32, pin bool) Candidate {
		return Candidate{FacialID: id, Similarity: s, HasPIN: pin}
	}
	for _, tc := range []struct {
		name   string
		pol    Policy
		cands  []Candidate
		pin    bool
		kind   Kind
		who    string
		pinFor []string
		locked bool
	}{
		{"empty", opt, nil, false, NoMatch, "", nil, false},
		{"stranger far below", opt, []Candidate{c("a", lo, true)}, false, NoMatch, "", nil, false},
		{"face alone", opt, []Candidate{c("a", hi, true), c("b", lo, true)}, false, Match, "a", nil, false},
		{"face alone, no PIN set", opt, []Candidate{c("a", hi, false)}, false, Match, "a", nil, false},
		{"between: PIN asked", opt, []Candidate{c("a", mid, true), c("b", lo, true)}, false, SecondFactor, "", []string{"a"}, false},
		{"between, candidate without PIN", opt, []Candidate{c("a", mid, false)}, false, NoMatch, "", nil, false},
		{"between, PIN off: never a guess", off, []Candidate{c("a", mid, true)}, false, NoMatch, "", nil, false},
		{"two above face-only: ambiguous → PIN", opt, []Candidate{c("a", hi, true), c("b", hi-0.01, true)}, false, SecondFactor, "", []string{"a", "b"}, false},
		{"two above face-only, PIN off", off, []Candidate{c("a", hi, true), c("b", hi-0.01, true)}, false, NoMatch, "", nil, false},
		{"PIN required asks even above face-only", req, []Candidate{c("a", hi, true)}, false, SecondFactor, "", []string{"a"}, false},
		{"always ask PIN", always, []Candidate{c("a", hi, true)}, false, SecondFactor, "", []string{"a"}, false},
		{"PIN given is checked even above face-only", opt, []Candidate{c("a", hi, true)}, true, SecondFactor, "", []string{"a"}, false},
		{"PIN candidates capped", opt, []Candidate{c("a", mid, true), c("b", mid, true), c("c", mid, true), c("d", mid, true)}, false, SecondFactor, "", []string{"a", "b", "c"}, false},
		{"locked best", opt, []Candidate{{FacialID: "a", Similarity: hi, HasPIN: true, Locked: true}}, false, NoMatch, "", nil, true},
		{"locked second skipped for PIN", opt, []Candidate{c("a", mid, true), {FacialID: "b", Similarity: mid, HasPIN: true, Locked: true}}, false, SecondFactor, "", []string{"a"}, false},
	} {
		d := Decide(Input{Candidates: tc.cands, GallerySize: n, Policy: tc.pol, PINGiven: tc.pin})
		if d.Kind != tc.kind || d.FacialID != tc.who || d.Locked != tc.locked || !equal(d.PINFor, tc.pinFor) {
			t.Errorf("%s: got %+v, want %s %q PIN for %v locked %v", tc.name, d, tc.kind, tc.who, tc.pinFor, tc.locked)
		}
		// What must never happen: a Match below the face-only threshold.
		if d.Kind == Match && len(tc.cands) > 0 && tc.cands[0].Similarity < th.FaceOnly {
			t.Errorf("%s: matched below the face-only threshold", tc.name)
		}
	}
}

// The same similarity that identifies alone in a small gallery needs a
// second factor in a large one.
func TestDecideDependsOnGallerySize(t *testing.T) {
	p := Policy{MaxFAR: 1e-4, PIN: likeness.PINOptional, PINMinLength: 4, RejectWeakPINs: true}
	s := ThresholdsFor(10, p).FaceOnly + 0.01
	in := Input{Candidates: []Candidate{{FacialID: "a", Similarity: s, HasPIN: true}}, Policy: p}
	in.GallerySize = 10
	if d := Decide(in); d.Kind != Match {
		t.Fatalf("small gallery: %+v", d)
	}
	in.GallerySize = 300
	if d := Decide(in); d.Kind != SecondFactor {
		t.Fatalf("large gallery: %+v", d)
	}
}

func TestEstimated(t *testing.T) {
	p := Policy{MaxFAR: 1e-4, PIN: likeness.PINOff, PINMinLength: 4, RejectWeakPINs: true}
	small, large := Estimated(5, p), Estimated(50000, p)
	if small.FaceOnlyFalseAcceptRate > p.MaxFAR || large.FaceOnlyFalseAcceptRate > p.MaxFAR {
		t.Fatalf("estimates above the target: %+v %+v", small, large)
	}
	if small.SecondFactorRequired || !large.SecondFactorRequired || large.SecondFactorAvailable {
		t.Fatalf("small %+v large %+v", small, large)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
