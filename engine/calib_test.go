package engine

import (
	"math"
	"testing"

	"github.com/likeness/likeness"
)

func TestFalseMatchRateMonotone(t *testing.T) {
	prev := 2.0
	for s := float32(-1); s <= 1; s += 0.001 {
		r := FalseMatchRate(s)
		if r > prev+1e-15 || r < 0 || r > 1 {
			t.Fatalf("FalseMatchRate(%.3f) = %g after %g: not a decreasing rate", s, r, prev)
		}
		prev = r
	}
}

func TestCalibrationPoints(t *testing.T) {
	for _, tc := range []struct {
		sim  float32
		want float64 // measured × margin
	}{
		{0.36, 1.5 * 5.976e-04}, {0.42, 1.5 * 9.375e-05}, {0.50, 3 * 5.469e-06},
	} {
		if got := FalseMatchRate(tc.sim); math.Abs(got-tc.want)/tc.want > 0.01 {
			t.Errorf("FalseMatchRate(%.2f) = %g, want %g", tc.sim, got, tc.want)
		}
	}
	// The plateau of lookalikes is never extrapolated away.
	if r := FalseMatchRate(0.65); r < tailMargin*plateauRate {
		t.Errorf("FalseMatchRate(0.65) = %g below the measured plateau", r)
	}
	if r := FalseMatchRate(0.999); r < tailMargin*twinRate {
		t.Errorf("FalseMatchRate(0.999) = %g below the rate of twins", r)
	}
}

func TestThresholdAt(t *testing.T) {
	for _, fmr := range []float64{1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10} {
		th := ThresholdAt(fmr)
		if th < 1 && FalseMatchRate(th) > fmr {
			t.Errorf("ThresholdAt(%g) = %.3f has rate %g above the target", fmr, th, FalseMatchRate(th))
		}
		if th > -1 && th < 1 && FalseMatchRate(th-0.002) <= fmr {
			t.Errorf("ThresholdAt(%g) = %.3f is not the lowest", fmr, th)
		}
	}
	if a, b := ThresholdAt(1e-4), ThresholdAt(1e-6); !(a < b) {
		t.Errorf("threshold does not rise as the rate falls: %.3f, %.3f", a, b)
	}
}

func TestSubject(t *testing.T) {
	face := func(h float32) Face { return Face{Box: Box{X1: 0, Y1: 0, X2: h, Y2: h}} }
	for _, tc := range []struct {
		name  string
		faces []Face
		code  string
	}{
		{"none", nil, "no_face"},
		{"one", []Face{face(100)}, ""},
		{"background face", []Face{face(100), face(50)}, ""},
		{"at the ratio", []Face{face(100), face(80)}, ""},
		{"comparable", []Face{face(100), face(81)}, "many_faces"},
		{"same size", []Face{face(100), face(100)}, "many_faces"},
	} {
		f, err := Subject(tc.faces)
		switch {
		case tc.code == "" && (err != nil || f != &tc.faces[0]):
			t.Errorf("%s: %v, want the largest face", tc.name, err)
		case tc.code != "" && (err == nil || likeness.ErrorCode(err) != tc.code):
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
}
