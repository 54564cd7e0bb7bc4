package engine

import (
	"math"
	"testing"
)

func TestDecideAge(t *testing.T) {
	good := func(age float32) AgeFrame {
		return AgeFrame{Age: age, Size: 150, Sharpness: 300, Yaw: 5, Pitch: -5}
	}
	thr := float32(AgeThreshold(18))
	adult, minor := thr+5, thr-5
	small, blurred, turned, looking := good(adult), good(adult), good(adult), good(adult)
	small.Size = ageMinFace - 1
	blurred.Sharpness = ageMinSharpness - 1
	turned.Yaw = -(ageMaxTurn + 1)
	looking.Pitch = ageMaxTurn + 1
	nan := good(float32(math.NaN()))
	inf := good(float32(math.Inf(1)))
	for _, c := range []struct {
		name   string
		frames []AgeFrame
		minAge int
		want   AgeVerdict
	}{
		{"no frame", nil, 18, AgeUndecided},
		{"an adult", []AgeFrame{good(adult), good(adult), good(adult)}, 18, AgeAdult},
		{"a minor", []AgeFrame{good(minor), good(minor), good(minor)}, 18, AgeMinor},
		{"exactly at the threshold", []AgeFrame{good(thr)}, 18, AgeAdult},
		{"just under the threshold", []AgeFrame{good(thr - 0.01)}, 18, AgeMinor},
		{"just over the minimum age is not enough", []AgeFrame{good(18.5)}, 18, AgeMinor},
		// Attacks: frames that would pass on their own cannot outvote the rest.
		{"one adult-looking frame among minor ones", []AgeFrame{good(minor), good(60), good(minor), good(minor), good(minor)}, 18, AgeMinor},
		{"two of five adult-looking", []AgeFrame{good(minor), good(60), good(minor), good(60), good(minor)}, 18, AgeMinor},
		{"even count: the median averages the middle two", []AgeFrame{good(minor), good(thr + 3), good(adult), good(adult)}, 18, AgeAdult},
		// Frames too small, blurred or turned are not used; without a usable
		// frame the gate does not decide (and the caller refuses).
		{"only a small face", []AgeFrame{small}, 18, AgeUndecided},
		{"only blurred", []AgeFrame{blurred}, 18, AgeUndecided},
		{"only turned", []AgeFrame{turned}, 18, AgeUndecided},
		{"only looking up", []AgeFrame{looking}, 18, AgeUndecided},
		{"NaN and infinite estimates", []AgeFrame{nan, inf}, 18, AgeUndecided},
		{"unusable adult-looking frames do not count", []AgeFrame{small, blurred, turned, good(minor)}, 18, AgeMinor},
		{"a turned minor frame is ignored", []AgeFrame{good(adult), func() AgeFrame { f := good(5); f.Yaw = 40; return f }()}, 18, AgeAdult},
		{"higher minimum age", []AgeFrame{good(adult)}, 30, AgeMinor},
		{"lowest minimum age", []AgeFrame{good(float32(AgeThreshold(13)) + 0.01)}, 13, AgeAdult},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := DecideAge(c.frames, c.minAge)
			if d.Verdict != c.want {
				t.Fatalf("verdict %d (median %.1f over %d frames), want %d", d.Verdict, d.Age, d.Frames, c.want)
			}
			if d.Verdict == AgeUndecided && (d.Band() != "" || d.Age != 0) {
				t.Fatalf("an undecided gate gave a band %q or an age", d.Band())
			}
		})
	}
}

func TestAgeThresholdGrowsWithMinimumAge(t *testing.T) {
	if ageMarginRatio <= 0 {
		t.Fatalf("margin ratio %v: the threshold must lie above the minimum age", ageMarginRatio)
	}
	prev := 0.0
	for m := 13; m <= 99; m++ {
		th := AgeThreshold(m)
		if th <= float64(m) || th < prev || th-float64(m) < prev-float64(m-1)-0.11 {
			t.Fatalf("threshold(%d) = %.1f after %.1f: it must exceed the minimum age, and the margin must not shrink", m, th, prev)
		}
		prev = th
	}
}

func TestAgeCalibrationMonotone(t *testing.T) {
	for i := 1; i < len(ageCalibration); i++ {
		if ageCalibration[i][0] <= ageCalibration[i-1][0] || ageCalibration[i][1] < ageCalibration[i-1][1] {
			t.Fatalf("calibration knot %d %v after %v: not increasing", i, ageCalibration[i], ageCalibration[i-1])
		}
	}
	lo, hi := ageCalibration[0], ageCalibration[len(ageCalibration)-1]
	for _, c := range []struct{ x, want float64 }{{lo[0] - 10, lo[1]}, {hi[0] + 10, hi[1]}, {lo[0], lo[1]}, {hi[0], hi[1]}} {
		if got := calibrate(c.x); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("calibrate(%v) = %v, want %v (flat beyond the ends)", c.x, got, c.want)
		}
	}
	if got := EstimateAge(make([]float32, 3), 30); !math.IsNaN(float64(got)) {
		t.Errorf("an embedding of the wrong length gave %v, want NaN (never a usable estimate)", got)
	}
}

func TestAgeBand(t *testing.T) {
	for _, c := range []struct {
		age  float64
		want string
	}{{4.2, "0-9"}, {17.9, "10-19"}, {18, "10-19"}, {35, "30-39"}, {99.9, "90-99"}} {
		if got := (AgeDecision{Verdict: AgeMinor, Age: c.age}).Band(); got != c.want {
			t.Errorf("band(%v) = %q, want %q", c.age, got, c.want)
		}
	}
}
