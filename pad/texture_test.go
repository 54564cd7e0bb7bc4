package pad

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/likeness/likeness/engine"
)

// Scenes for TextureParallax: a textured face surface, in units of the eye
// distance (the landmarks of head(), on the surface), seen by a camera at
// texScale pixels an eye distance in a texW×texH frame.
const (
	texW, texH = 320, 240
	texScale   = 60.0
)

// relief is the face surface's height towards the camera at (x, y): a nose
// standing half an eye distance out at its tip, cheeks curving back.
func relief(x, y float64) float64 {
	return 0.5*math.Exp(-x*x/(2*0.12*0.12)-(y-0.3)*(y-0.3)/(2*0.3*0.3)) - 0.25*x*x
}

// skin is a texture of random gratings (wavelengths 0.06–0.4 eye
// distances), like the pores, shading and hair of a face at webcam scale,
// tabulated over the face (skinRes samples an eye distance) and read
// bilinearly.
type skin struct{ v []float64 }

const (
	skinRes            = 200
	skinX0, skinY0     = -2.0, -1.5
	skinSide           = 4 * skinRes
	reliefLo, reliefHi = -0.5, 0.6
)

func newSkin(rng *rand.Rand) *skin {
	var g [16][4]float64
	for i := range g {
		a := rng.Float64() * math.Pi
		k := 2 * math.Pi / (0.06 + 0.34*rng.Float64())
		g[i] = [4]float64{k * math.Cos(a), k * math.Sin(a), 2 * math.Pi * rng.Float64(), 6 + 8*rng.Float64()}
	}
	s := &skin{v: make([]float64, skinSide*skinSide)}
	for j := 0; j < skinSide; j++ {
		for i := 0; i < skinSide; i++ {
			x, y := skinX0+float64(i)/skinRes, skinY0+float64(j)/skinRes
			v := 128.0
			for _, q := range g {
				v += q[3] * math.Sin(q[0]*x+q[1]*y+q[2])
			}
			s.v[j*skinSide+i] = v
		}
	}
	return s
}

func (s *skin) at(x, y float64) float64 {
	fx := math.Min(math.Max((x-skinX0)*skinRes, 0), skinSide-1.001)
	fy := math.Min(math.Max((y-skinY0)*skinRes, 0), skinSide-1.001)
	i, j := int(fx), int(fy)
	fx, fy = fx-float64(i), fy-float64(j)
	o := j*skinSide + i
	a := s.v[o] + fx*(s.v[o+1]-s.v[o])
	b := s.v[o+skinSide] + fx*(s.v[o+skinSide+1]-s.v[o+skinSide])
	return a + fy*(b-a)
}

// scene renders one frame: the surface (flat: a print of it, height 0)
// turned by yaw and pitch (degrees, orthographic), then moved in the image
// by the planar motion m (a homography about the frame centre), with
// Gaussian noise sigma per pixel and landmark jitter of jitter pixels.
func scene(sk *skin, flat bool, yaw, pitch float64, m homography, sigma, jitter float64, rng *rand.Rand) Frame {
	z := relief
	if flat {
		z = func(float64, float64) float64 { return 0 }
	}
	return sceneZ(sk, z, yaw, pitch, m, sigma, jitter, rng)
}

// sceneZ is scene with the surface's height z.
func sceneZ(sk *skin, z func(x, y float64) float64, yaw, pitch float64, m homography, sigma, jitter float64, rng *rand.Rand) Frame {
	cy, sy := math.Cos(yaw*math.Pi/180), math.Sin(yaw*math.Pi/180)
	cp, sp := math.Cos(pitch*math.Pi/180), math.Sin(pitch*math.Pi/180)
	ox, oy := texW/2.0, texH/2.0-0.3*texScale
	forward := func(x, y float64) (float64, float64) { // surface → image
		h := z(x, y)
		u, v := m.apply(x*cy+h*sy, y*cp-h*sp)
		return ox + texScale*u, oy + texScale*v
	}
	inv, ok := inverse3(m)
	if !ok {
		panic("singular motion")
	}
	mi := homography(inv)
	img := &engine.Image{W: texW, H: texH, Pix: make([]uint8, 3*texW*texH)}
	for py := 0; py < texH; py++ {
		for px := 0; px < texW; px++ {
			u, v := mi.apply((float64(px)-ox)/texScale, (float64(py)-oy)/texScale)
			x, y := u/cy, v/cp
			for it := 0; it < 6; it++ { // the surface point seen at (u, v)
				h := z(x, y)
				x, y = (u-h*sy)/cy, (v+h*sp)/cp
			}
			g := sk.at(x, y) + sigma*rng.NormFloat64()
			g = math.Min(255, math.Max(0, g))
			o := 3 * (py*texW + px)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2] = uint8(g), uint8(g), uint8(g)
		}
	}
	var l engine.Landmarks
	box := engine.Box{X1: texW, Y1: texH}
	for k, q := range head() {
		u, v := forward(q[0], q[1])
		l[k] = engine.Point{X: float32(u + jitter*rng.NormFloat64()), Y: float32(v + jitter*rng.NormFloat64())}
		box.X1, box.Y1 = min(box.X1, l[k].X), min(box.Y1, l[k].Y)
		box.X2, box.Y2 = max(box.X2, l[k].X), max(box.Y2, l[k].Y)
	}
	return Frame{Landmarks: l, Patch: engine.FacePatch(img, box)}
}

// planarMotion is a homography about the face: shift (in eye distances),
// scale, rotation (degrees) and perspective.
func planarMotion(dx, dy, scale, deg, px, py float64) homography {
	c, s := scale*math.Cos(deg*math.Pi/180), scale*math.Sin(deg*math.Pi/180)
	return homography{c, -s, dx, s, c, dy, px, py, 1}
}

func texFrames(n int, frame func(i int, rng *rand.Rand) Frame) []Frame {
	rng := rand.New(rand.NewPCG(7, 11))
	out := make([]Frame, n)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range out {
		out[i] = frame(i, rng)
		out[i].At = t0.Add(time.Duration(i) * 100 * time.Millisecond)
	}
	return out
}

// TestTextureParallax: a flat thing moved by any planar motion, noised or
// flickered, stays at the alignment's noise, far under the tolerance; a
// head swaying by two degrees moves its nose against its face past it.
func TestTextureParallax(t *testing.T) {
	sk := newSkin(rand.New(rand.NewPCG(3, 5)))
	const n = 21
	u := func(rng *rand.Rand, a float64) float64 { return a * (2*rng.Float64() - 1) }
	for _, tc := range []struct {
		name  string
		frame func(i int, rng *rand.Rand) Frame
		live  bool
	}{
		{"print shifted up to 10 px", func(i int, rng *rand.Rand) Frame {
			return scene(sk, true, 0, 0, planarMotion(u(rng, 10/texScale), u(rng, 10/texScale), 1, 0, 0, 0), 0, 1, rng)
		}, false},
		{"print scaled ±5 %, rotated ±5°, tilted", func(i int, rng *rand.Rand) Frame {
			return scene(sk, true, 0, 0, planarMotion(u(rng, 3/texScale), u(rng, 3/texScale), 1+u(rng, 0.05), u(rng, 5), u(rng, 0.03), u(rng, 0.03)), 0, 1, rng)
		}, false},
		{"photo of a real head moved, noise σ 6", func(i int, rng *rand.Rand) Frame {
			return scene(sk, false, 0, 0, planarMotion(u(rng, 3/texScale), u(rng, 3/texScale), 1+u(rng, 0.05), u(rng, 5), u(rng, 0.03), 0), 6, 1, rng)
		}, false},
		{"photo of a turned head, flickering", func(i int, rng *rand.Rand) Frame {
			f := scene(sk, false, 8, 3, planarMotion(u(rng, 3/texScale), u(rng, 3/texScale), 1, u(rng, 2), 0, 0), 3, 1.5, rng)
			gain, off := 1+u(rng, 0.2), u(rng, 15)
			for k, v := range f.Patch.Pix {
				f.Patch.Pix[k] = uint8(math.Min(255, math.Max(0, gain*float64(v)+off)))
			}
			return f
		}, false},
		{"print bent about its vertical axis, swayed ±5°", func(i int, rng *rand.Rand) Frame {
			bent := func(x, y float64) float64 { return -0.1 * x * x } // 0.1 eye distances back at ±1
			return sceneZ(sk, bent, 5*math.Sin(2*math.Pi*float64(i)/n), 0, planarMotion(0, 0, 1, 0, 0, 0), 2, 1, rng)
		}, false},
		{"print bent about its horizontal axis, nodded ±5°", func(i int, rng *rand.Rand) Frame {
			bent := func(x, y float64) float64 { return -0.1 * y * y }
			return sceneZ(sk, bent, 0, 5*math.Sin(2*math.Pi*float64(i)/n), planarMotion(0, 0, 1, 0, 0, 0), 2, 1, rng)
		}, false},
		{"live head swaying 2°", func(i int, rng *rand.Rand) Frame {
			a := 2 * math.Pi * float64(i) / n
			return scene(sk, false, 2*math.Sin(a), 0.7*math.Cos(a), planarMotion(u(rng, 1/texScale), u(rng, 1/texScale), 1, 0, 0, 0), 2, 1, rng)
		}, true},
		{"live head nodding 2°, noise σ 6", func(i int, rng *rand.Rand) Frame {
			a := 2 * math.Pi * float64(i) / n
			return scene(sk, false, 0.5*math.Cos(a), 2*math.Sin(a), planarMotion(u(rng, 1/texScale), u(rng, 1/texScale), 1, 0, 0, 0), 6, 1, rng)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := TextureParallax(texFrames(n, tc.frame))
			switch {
			case tc.live && v < TextureParallaxTolerance:
				t.Errorf("live head: texture parallax %.4f under the tolerance %.4f", v, TextureParallaxTolerance)
			case !tc.live && v >= TextureParallaxTolerance/3:
				t.Errorf("flat image: texture parallax %.4f, want under a third of the tolerance %.4f", v, TextureParallaxTolerance)
			}
			t.Logf("texture parallax %.4f", v)
		})
	}
}

// TestTextureParallaxNoEvidence: too few frames, missing or broken patches,
// degenerate landmarks, and frames moving too fast to align give 0 without
// panicking.
func TestTextureParallaxNoEvidence(t *testing.T) {
	sk := newSkin(rand.New(rand.NewPCG(3, 5)))
	live := func(i int, rng *rand.Rand) Frame {
		a := 2 * math.Pi * float64(i) / 21
		return scene(sk, false, 2*math.Sin(a), 0.7*math.Cos(a), planarMotion(0, 0, 1, 0, 0, 0), 2, 1, rng)
	}
	good := texFrames(21, live)
	if v := TextureParallax(good); v < TextureParallaxTolerance {
		t.Fatalf("the swaying head itself: %.4f", v)
	}
	clone := func(edit func(fr []Frame)) []Frame {
		fr := append([]Frame(nil), good...)
		edit(fr)
		return fr
	}
	nan := float32(math.NaN())
	for name, fr := range map[string][]Frame{
		"no frames":   nil,
		"four frames": good[:4],
		"no patches": clone(func(fr []Frame) {
			for i := range fr {
				fr[i].Patch = engine.Patch{}
			}
		}),
		"first has no patch": clone(func(fr []Frame) { fr[0].Patch = engine.Patch{} }),
		"short patch":        clone(func(fr []Frame) { fr[0].Patch.Pix = fr[0].Patch.Pix[:100] }),
		"zero landmarks": clone(func(fr []Frame) {
			for i := range fr {
				fr[i].Landmarks = engine.Landmarks{}
			}
		}),
		"NaN landmarks": clone(func(fr []Frame) {
			for i := range fr {
				fr[i].Landmarks[30].X = nan
			}
		}),
		"NaN patch scale": clone(func(fr []Frame) {
			for i := range fr {
				fr[i].Patch.Scale = nan
			}
		}),
		"same receive time": clone(func(fr []Frame) {
			for i := range fr {
				fr[i].At = fr[0].At
			}
		}),
		"flat grey patches": clone(func(fr []Frame) {
			for i := range fr {
				fr[i].Patch.Pix = make([]uint8, len(fr[i].Patch.Pix))
			}
		}),
		"moving too fast": texFrames(21, func(i int, rng *rand.Rand) Frame {
			f := live(i, rng)
			for k := range f.Landmarks { // 0.5 eye distances between frames
				f.Landmarks[k].X += float32(float64(i%2) * 0.5 * texScale)
			}
			return f
		}),
	} {
		if v := TextureParallax(fr); v != 0 {
			t.Errorf("%s: %.4f, want 0", name, v)
		}
	}
}

// BenchmarkTextureParallax times one decision over 31 frames (MaxFrames)
// and 51 frames of a swaying head:
//
//	go test ./pad -run '^$' -bench TextureParallax -cpu 1
func BenchmarkTextureParallax(b *testing.B) {
	sk := newSkin(rand.New(rand.NewPCG(3, 5)))
	for _, n := range []int{MaxFrames, 51} {
		fr := texFrames(n, func(i int, rng *rand.Rand) Frame {
			a := 2 * math.Pi * float64(i) / float64(n)
			return scene(sk, false, 1.5*math.Sin(a), 0.7*math.Cos(a), planarMotion(0, 0, 1, 0, 0, 0), 2, 1, rng)
		})
		b.Run(fmt.Sprintf("frames=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				TextureParallax(fr)
			}
		})
	}
}

// TestJudgeTextureParallax: a session planar by its landmarks is live only
// when its texture parallax reaches the tolerance; a burst stays an attack
// whatever its texture shows.
func TestJudgeTextureParallax(t *testing.T) {
	planar := Evidence{Frames: 31, Span: 3 * time.Second, MedianGap: 100 * time.Millisecond,
		NonPlanarity: PlanarTolerance / 2, Parallax: ParallaxTolerance / 2}
	for _, tc := range []struct {
		name    string
		texture float64
		gap     time.Duration
		want    Verdict
	}{
		{"no texture evidence", 0, 100 * time.Millisecond, Inconclusive},
		{"just under the tolerance", TextureParallaxTolerance - 1e-4, 100 * time.Millisecond, Inconclusive},
		{"at the tolerance", TextureParallaxTolerance, 100 * time.Millisecond, Live},
		{"NaN is no evidence", math.NaN(), 100 * time.Millisecond, Inconclusive},
		{"a burst with texture", 0.1, 10 * time.Millisecond, Attack},
	} {
		e := planar
		e.TextureParallax, e.MedianGap = tc.texture, tc.gap
		if v, _ := Judge(e, 10); v != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, v, tc.want)
		}
	}
}

// TestMeasureTextureOnlyWhenPlanar: the texture parallax is computed when
// the landmarks look planar, and left at 0 when they already show depth.
func TestMeasureTextureOnlyWhenPlanar(t *testing.T) {
	sk := newSkin(rand.New(rand.NewPCG(3, 5)))
	fr := texFrames(21, func(i int, rng *rand.Rand) Frame {
		a := 2 * math.Pi * float64(i) / 21
		return scene(sk, false, 2*math.Sin(a), 0.7*math.Cos(a), planarMotion(0, 0, 1, 0, 0, 0), 2, 0.3, rng)
	})
	e := Measure(fr)
	if e.NonPlanarity >= PlanarTolerance || e.Parallax >= ParallaxTolerance {
		t.Fatalf("the swaying head's landmarks are not planar: %+v", e)
	}
	if e.TextureParallax < TextureParallaxTolerance {
		t.Errorf("texture parallax %.4f under the tolerance", e.TextureParallax)
	}
	if v, why := Judge(e, 10); v != Live {
		t.Errorf("judged %v (%s), want live", v, why)
	}
	// A blink in half the frames moves the landmarks against each other:
	// no need for the texture.
	for i := range fr {
		if i%2 == 1 {
			for _, k := range []int{37, 38, 43, 44} {
				fr[i].Landmarks[k].Y += 6
			}
		}
	}
	if e := Measure(fr); e.NonPlanarity >= PlanarTolerance && e.TextureParallax != 0 {
		t.Errorf("texture parallax computed for non-planar landmarks: %+v", e)
	} else if e.NonPlanarity < PlanarTolerance {
		t.Logf("blink did not reach the planar tolerance: %+v", e)
	}
}

// TestTextureMemo: a session that decides on every new frame, keeping each
// frame's memo, gets exactly what computing everything gives, aligns each
// frame once (a memo, once filled, is what is used: spoiling the frame's
// patch afterwards changes nothing), and starts again when the first frame
// changes (the window slid).
func TestTextureMemo(t *testing.T) {
	sk := newSkin(rand.New(rand.NewPCG(3, 5)))
	const n = 21
	fr := texFrames(n, func(i int, rng *rand.Rand) Frame {
		a := 2 * math.Pi * float64(i) / n
		return scene(sk, false, 2*math.Sin(a), math.Cos(a), planarMotion(0, 0, 1, 0, 0, 0), 2, 1, rng)
	})
	memos := make([]TextureMemo, n)
	withMemo := func(k int) []Frame {
		out := append([]Frame(nil), fr[:k]...)
		for i := range out {
			out[i].Memo = &memos[i]
		}
		return out
	}
	for k := parallaxSmooth; k <= n; k++ { // one call a frame, as a session makes
		if got, want := TextureParallax(withMemo(k)), TextureParallax(fr[:k]); got != want {
			t.Fatalf("%d frames: %v with memos, %v without", k, got, want)
		}
	}
	want := TextureParallax(fr)
	if want < TextureParallaxTolerance {
		t.Fatalf("the swaying relief measures %v, under the tolerance: the test proves nothing", want)
	}
	spoiled := withMemo(n)
	for i := 1; i < n; i++ {
		spoiled[i].Patch.Pix = make([]uint8, len(spoiled[i].Patch.Pix)) // flat grey: no alignment
	}
	if got := TextureParallax(spoiled); got != want {
		t.Errorf("memos not used: %v, want %v", got, want)
	}
	// The first frame dropped: every shift is against the new first frame.
	slid := withMemo(n)[1:]
	if got, again := TextureParallax(slid), TextureParallax(fr[1:]); got != again {
		t.Errorf("after the window slid: %v with memos, %v without", got, again)
	}
}
