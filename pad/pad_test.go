package pad

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/likeness/likeness/engine"
)

// head is a synthetic 68-point face in three dimensions, in units of the
// eye distance: the outline lies back at the ears, the nose stands out.
func head() [68][3]float64 {
	var p [68][3]float64
	for k := 0; k <= 16; k++ { // outline, ear to ear over the chin
		t := -math.Pi/2 + math.Pi*float64(k)/16
		p[k] = [3]float64{1.5 * math.Sin(t), 0.2 + 1.6*math.Cos(t), -(1 - math.Cos(t))}
	}
	for k := 17; k <= 26; k++ { // brows
		p[k] = [3]float64{-1.1 + 2.2*float64(k-17)/9, -0.65, 0.3}
	}
	for k := 27; k <= 30; k++ { // nose bridge to tip
		f := float64(k-27) / 3
		p[k] = [3]float64{0, -0.35 + 0.75*f, 0.35 + 0.45*f}
	}
	for k := 31; k <= 35; k++ { // nostrils
		p[k] = [3]float64{-0.3 + 0.15*float64(k-31), 0.55, 0.5}
	}
	eye := func(first int, cx float64) {
		for i := 0; i < 6; i++ {
			a := math.Pi * float64(i) / 3
			p[first+i] = [3]float64{cx - 0.22*math.Cos(a), -0.3 - 0.08*math.Sin(a), 0.2}
		}
	}
	eye(36, -0.5)
	eye(42, 0.5)
	for i := 0; i < 12; i++ { // outer lip
		a := 2 * math.Pi * float64(i) / 12
		p[48+i] = [3]float64{-0.5 * math.Cos(a), 1.05 - 0.2*math.Sin(a), 0.3}
	}
	for i := 0; i < 8; i++ { // inner lip
		a := 2 * math.Pi * float64(i) / 8
		p[60+i] = [3]float64{-0.35 * math.Cos(a), 1.05 - 0.06*math.Sin(a), 0.3}
	}
	return p
}

// project views the head turned by yaw and pitch (degrees) with a
// perspective camera, eye distance 80 px at the frame centre; flat puts
// every point in one plane first (a print of the face).
func project(p [68][3]float64, yaw, pitch float64, flat bool) engine.Landmarks {
	var l engine.Landmarks
	cy, sy := math.Cos(yaw*math.Pi/180), math.Sin(yaw*math.Pi/180)
	cp, sp := math.Cos(pitch*math.Pi/180), math.Sin(pitch*math.Pi/180)
	for k, q := range p {
		x, y, z := q[0], q[1], q[2]
		if flat {
			z = 0
		}
		x, z = cy*x+sy*z, -sy*x+cy*z
		y, z = cp*y-sp*z, sp*y+cp*z
		d := 8 / (8 - z) // camera 8 eye distances away
		l[k] = engine.Point{X: float32(320 + 80*x*d), Y: float32(240 + 80*y*d)}
	}
	return l
}

// moved applies a planar motion (shift, scale, rotation about the centre,
// perspective) and landmark jitter of sigma pixels.
func moved(l engine.Landmarks, dx, dy, scale, deg, px, py, sigma float64, rng *rand.Rand) engine.Landmarks {
	c, s := scale*math.Cos(deg*math.Pi/180), scale*math.Sin(deg*math.Pi/180)
	var out engine.Landmarks
	for k, q := range l {
		x, y := float64(q.X)-320, float64(q.Y)-240
		w := 1 + px*x + py*y
		u, v := (c*x-s*y)/w+320+dx, (s*x+c*y)/w+240+dy
		out[k] = engine.Point{X: float32(u + sigma*rng.NormFloat64()), Y: float32(v + sigma*rng.NormFloat64())}
	}
	return out
}

func frames(ls []engine.Landmarks, gap time.Duration) []Frame {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]Frame, len(ls))
	for i, l := range ls {
		out[i] = Frame{Landmarks: l, At: t0.Add(time.Duration(i) * gap)}
	}
	return out
}

// TestPlanarMotionsOfOneImage: what an attacker does with one still — each
// kind of planar motion, with the landmark jitter measured on stills (about
// 0.6 % of the eye distance) — is explained by one plane, however large the
// motion.
func TestPlanarMotionsOfOneImage(t *testing.T) {
	still := project(head(), 0, 0, false) // a photo of a real head
	const jitter = 0.5                    // px at 80 px eye distance
	for _, tc := range []struct {
		name                       string
		dx, dy, scale, deg, px, py float64
	}{
		{"shift 1 px", 1, 0, 1, 0, 0, 0},
		{"shift 10 px", -10, 7, 1, 0, 0, 0},
		{"scale +5 %", 2, 2, 1.05, 0, 0, 0},
		{"scale -5 %", -2, 1, 0.95, 0, 0, 0},
		{"rotate 5°", 1, -1, 1, 5, 0, 0},
		{"rotate -5°", 0, 3, 1, -5, 0, 0},
		{"perspective (tilted print)", 3, 0, 1, 0, 4e-4, -3e-4},
		{"everything at once", -6, 4, 1.04, -4, -3e-4, 2e-4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var ls []engine.Landmarks
			for i := 0; i < 10; i++ {
				f := float64(i%2*2 - 1) // alternate so every pair differs by the full motion
				ls = append(ls, moved(still, f*tc.dx, f*tc.dy, math.Pow(tc.scale, f), f*tc.deg, f*tc.px, f*tc.py, jitter, rng))
			}
			e := Measure(frames(ls, 100*time.Millisecond))
			if v, why := Judge(e, 10); v != Inconclusive || why != ReasonPlanar {
				t.Fatalf("non-planarity %.4f judged %v (%s), want planar", e.NonPlanarity, v, why)
			}
			// Tilting a print as far as the largest motion above never
			// passes for a turned head.
			if TurnIs3D(ls[:1], &ls[1]) {
				t.Error("a flat image moved counts as a three-dimensional turn")
			}
		})
	}
}

// TestLiveHeadIsNotPlanar: a head that turns a little, nods, blinks or
// speaks moves its points against each other.
func TestLiveHeadIsNotPlanar(t *testing.T) {
	h := head()
	blink := h
	for _, k := range []int{37, 38, 40, 41, 43, 44, 46, 47} {
		blink[k][1] = -0.3 // lids meet
	}
	speak := h
	for k := 54; k <= 59; k++ {
		speak[k][1] += 0.25 // lower lip drops
	}
	for k := 64; k <= 67; k++ {
		speak[k][1] += 0.2
	}
	speak[8][1] += 0.2 // and the chin
	for _, tc := range []struct {
		name string
		a, b engine.Landmarks
	}{
		{"turn 8°", project(h, 0, 0, false), project(h, 8, 0, false)},
		{"nod 8°", project(h, 0, 0, false), project(h, 0, 8, false)},
		{"blink and speak", project(blink, 0, 0, false), project(speak, 0, 0, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			var ls []engine.Landmarks
			for i := 0; i < 10; i++ {
				src := tc.a
				if i%2 == 1 {
					src = tc.b
				}
				ls = append(ls, moved(src, 2*float64(i%3), 0, 1, 0, 0, 0, 0.5, rng))
			}
			e := Measure(frames(ls, 100*time.Millisecond))
			if v, why := Judge(e, 10); v != Live {
				t.Fatalf("non-planarity %.4f judged %v (%s), want live", e.NonPlanarity, v, why)
			}
		})
	}
	// The prompted 18° turn of a real head is three-dimensional; the same
	// yaw faked by rotating a print about its vertical axis is not.
	front := []engine.Landmarks{project(h, 0, 0, false), project(h, 1, 0, false)}
	if turned := project(h, 20, 0, false); !TurnIs3D(front, &turned) {
		t.Error("a real 20° turn is not three-dimensional")
	}
	flatFront := []engine.Landmarks{project(h, 0, 0, true)}
	if turned := project(h, 35, 0, true); TurnIs3D(flatFront, &turned) {
		t.Error("a print turned by 35° passes as a three-dimensional turn")
	}
	if TurnIs3D(nil, &front[0]) {
		t.Error("a turn with no frontal reference passes")
	}
}

// TestEvidenceOverTime: a decision needs MinFrames frames over MinSpan at
// camera pace.
func TestEvidenceOverTime(t *testing.T) {
	h := head()
	live := func(n int, gap time.Duration) []Frame {
		var ls []engine.Landmarks
		for i := 0; i < n; i++ {
			ls = append(ls, project(h, float64(i%4)*5, float64(i%3)*4, false))
		}
		return frames(ls, gap)
	}
	for _, tc := range []struct {
		name   string
		fr     []Frame
		enough bool
		want   Verdict
		why    string
	}{
		{"camera, 1.0 s", live(11, 100*time.Millisecond), true, Live, ""},
		{"camera, 0.9 s", live(10, 100*time.Millisecond), false, Live, ""},
		{"five frames over 2 s", live(5, 500*time.Millisecond), false, Live, ""},
		{"slow camera, 6 frames over 1.5 s", live(6, 300*time.Millisecond), true, Live, ""},
		{"burst of 40 frames", live(40, 5*time.Millisecond), false, Attack, ReasonBurst},
		{"burst then a wait", append(live(10, 10*time.Millisecond), Frame{Landmarks: project(h, 5, 0, false),
			At: time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC)}), true, Attack, ReasonBurst},
		{"at the limit, 50 ms", live(21, 50*time.Millisecond), true, Live, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Enough(tc.fr); got != tc.enough {
				t.Errorf("Enough = %v, want %v", got, tc.enough)
			}
			if v, why := Judge(Measure(tc.fr), 10); v != tc.want || why != tc.why {
				t.Errorf("Judge = %v (%s), want %v (%s)", v, why, tc.want, tc.why)
			}
		})
	}
	if Enough(nil) || Enough(live(1, 0)) {
		t.Error("no frames are enough")
	}
	if got := MinGap(10); got != 50*time.Millisecond {
		t.Errorf("MinGap(10) = %v", got)
	}
	if got := MinGap(0); got != 500*time.Millisecond {
		t.Errorf("MinGap(0) = %v", got)
	}
}

// TestNonPlanarityEdges: identical frames are perfectly planar; a
// degenerate point set is no evidence of depth (0, never +Inf or NaN,
// which would pass a ≥ test).
func TestNonPlanarityEdges(t *testing.T) {
	l := project(head(), 0, 0, false)
	if v := NonPlanarity(&l, &l); v > 1e-6 {
		t.Errorf("identical frames: %v", v)
	}
	var dot engine.Landmarks
	for i := range dot {
		dot[i] = engine.Point{X: 5, Y: 5}
	}
	if v := NonPlanarity(&dot, &dot); v != 0 {
		t.Errorf("degenerate: %v", v)
	}
	if v := NonPlanarity(&l, &dot); v != 0 && !(v > 0) {
		t.Errorf("degenerate target: %v", v)
	}
	if v, _ := Judge(Measure(frames([]engine.Landmarks{dot, dot, dot, dot, dot, dot}, 200*time.Millisecond)), 10); v == Live {
		t.Error("degenerate frames judged live")
	}
}

// TestParallax: a head sitting still sways, and its nose moves against the
// eye and mouth corners; a picture moved in every way a plane can move —
// including a print swung about its vertical axis, what an attacker holding
// one does — does not, whatever the landmark jitter.
func TestParallax(t *testing.T) {
	h := head()
	front := project(h, 0, 0, false)
	seq := func(n int, sigma float64, pose func(i int, rng *rand.Rand) engine.Landmarks) []engine.Landmarks {
		rng := rand.New(rand.NewPCG(7, 8))
		out := make([]engine.Landmarks, n)
		for i := range out {
			l := pose(i, rng)
			out[i] = moved(l, 0, 0, 1, 0, 0, 0, sigma, rng)
		}
		return out
	}
	wave := func(i int, per float64) float64 { return math.Sin(2 * math.Pi * float64(i) / per) }
	for _, tc := range []struct {
		name string
		ls   []engine.Landmarks
		live bool
	}{
		{"sway ±3° yaw, ±2° pitch over 3 s", seq(31, 0.4, func(i int, _ *rand.Rand) engine.Landmarks {
			return project(h, 3*wave(i, 31), 2*wave(i, 48), false)
		}), true},
		{"nod ±3° only", seq(31, 0.4, func(i int, _ *rand.Rand) engine.Landmarks { return project(h, 0, 3*wave(i, 25), false) }), true},
		{"an 8° turn in 1 s", seq(11, 0.4, func(i int, _ *rand.Rand) engine.Landmarks { return project(h, 0.8*float64(i), 0, false) }), true},
		{"still, every planar motion at random", seq(31, 0.5, func(i int, rng *rand.Rand) engine.Landmarks {
			u := func() float64 { return 2*rng.Float64() - 1 }
			return moved(front, 10*u(), 10*u(), 1+0.05*u(), 5*u(), 4e-4*u(), 4e-4*u(), 0, rng)
		}), false},
		{"still, heavy jitter (a blurred photo)", seq(31, 1.5, func(int, *rand.Rand) engine.Landmarks { return front }), false},
		{"print swung ±15° about its vertical axis", seq(31, 0.5, func(i int, _ *rand.Rand) engine.Landmarks {
			return project(h, 15*wave(i, 20), 0, true)
		}), false},
		{"print swung and nodded ±10°", seq(31, 0.5, func(i int, _ *rand.Rand) engine.Landmarks {
			return project(h, 10*wave(i, 20), 10*wave(i, 13), true)
		}), false},
		{"print moved in smooth steps", seq(31, 0.5, func(i int, rng *rand.Rand) engine.Landmarks {
			return moved(front, float64(i), -float64(i)/2, 1+0.003*float64(i), 0.2*float64(i), 0, 0, 0, rng)
		}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Parallax(tc.ls)
			if (p >= ParallaxTolerance) != tc.live {
				t.Errorf("Parallax %.4f, tolerance %.3f, want live %v", p, ParallaxTolerance, tc.live)
			}
		})
	}
	if p := Parallax(seq(4, 0, func(i int, _ *rand.Rand) engine.Landmarks { return project(h, 20*float64(i), 0, false) })); p != 0 {
		t.Errorf("four frames give parallax %.3f, want 0 (too few)", p)
	}
	var dot engine.Landmarks
	if p := Parallax([]engine.Landmarks{dot, dot, dot, dot, dot, dot}); p != 0 {
		t.Errorf("degenerate points give %.3f", p)
	}
}
