package eval

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"
)

// Attack species generated from one live photo or frame: what an attacker
// with a still image and a small program (no camera) can stream. Each frame
// is the still placed in a 640×480 camera frame and moved by a fresh random
// planar motion within the species' range.
const (
	SpeciesShift       = "still-shift"       // translation 1–10 px
	SpeciesScale       = "still-scale"       // ±5 % scale (and 1–3 px shift)
	SpeciesRotate      = "still-rotate"      // ±5° rotation (and 1–3 px shift)
	SpeciesPerspective = "still-perspective" // corners moved up to 3 % (a tilted print or screen)
	SpeciesReencode    = "still-reencode"    // per-frame JPEG quality 35–95 (and 1–3 px shift)
	SpeciesNoise       = "still-noise"       // Gaussian noise σ 6 per channel (and 1–3 px shift)
	SpeciesFlicker     = "still-flicker"     // brightness ×0.8–1.2, +−15 (and 1–3 px shift)
	SpeciesCombined    = "still-combined"    // all of the above at once
	// SpeciesInterleaved is a still-shift stream with one frame in three
	// from a live clip of another person (RunPAD; pad.SameFace).
	SpeciesInterleaved = "interleaved still + another live face"
)

// StillSpecies are the generated still-image species, in report order.
var StillSpecies = []string{SpeciesShift, SpeciesScale, SpeciesRotate, SpeciesPerspective,
	SpeciesReencode, SpeciesNoise, SpeciesFlicker, SpeciesCombined}

// Frame size of generated attacks: what the widget sends.
const attackW, attackH = 640, 480

// StillAttack returns n JPEG frames of species made from src. seed makes
// the sequence reproducible.
func StillAttack(src image.Image, species string, n int, seed uint64) [][]byte {
	rgba := image.NewRGBA(src.Bounds())
	draw.Draw(rgba, rgba.Bounds(), src, src.Bounds().Min, draw.Src)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	b := rgba.Bounds()
	// Fit the still into the frame with a margin so moves stay inside.
	fit := 0.9 * min(attackW/float64(b.Dx()), attackH/float64(b.Dy()))
	place := [9]float64{fit, 0, (attackW - fit*float64(b.Dx())) / 2, 0, fit, (attackH - fit*float64(b.Dy())) / 2, 0, 0, 1}
	u := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	sign := func() float64 {
		if rng.IntN(2) == 0 {
			return -1
		}
		return 1
	}
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		var (
			dx, dy       = sign() * u(1, 3), sign() * u(1, 3)
			scale, theta = 1.0, 0.0
			persp        [2]float64
			quality      = 90
			noise        = 0.0
			gain, offset = 1.0, 0.0
		)
		all := species == SpeciesCombined
		switch {
		case species == SpeciesShift:
			dx, dy = sign()*u(1, 10), sign()*u(1, 10)
		case all || species == SpeciesScale:
			scale = u(0.95, 1.05)
		}
		if all || species == SpeciesRotate {
			theta = u(-5, 5) * math.Pi / 180
		}
		if all || species == SpeciesPerspective {
			persp = [2]float64{u(-0.03, 0.03) / attackW, u(-0.03, 0.03) / attackH}
		}
		if all || species == SpeciesReencode {
			quality = 35 + rng.IntN(61)
		}
		if all || species == SpeciesNoise {
			noise = 6
		}
		if all || species == SpeciesFlicker {
			gain, offset = u(0.8, 1.2), u(-15, 15)
		}
		// Motion about the frame centre: T(c+d)·[sR 0; p 1]·T(−c).
		cx, cy := attackW/2.0, attackH/2.0
		c, s := scale*math.Cos(theta), scale*math.Sin(theta)
		move := [9]float64{c, -s, 0, s, c, 0, persp[0], persp[1], 1}
		toC := [9]float64{1, 0, -cx, 0, 1, -cy, 0, 0, 1}
		back := [9]float64{1, 0, cx + dx, 0, 1, cy + dy, 0, 0, 1}
		fwd := mul33(back, mul33(move, mul33(toC, place)))
		frame := warp(rgba, inv33(fwd), noise, gain, offset, rng)
		var buf bytes.Buffer
		_ = jpeg.Encode(&buf, frame, &jpeg.Options{Quality: quality})
		out = append(out, buf.Bytes())
	}
	return out
}

// warp samples src bilinearly through the inverse map m (frame pixel →
// source pixel) into a grey-backed 640×480 frame, with brightness gain,
// offset and Gaussian noise.
func warp(src *image.RGBA, m [9]float64, noise, gain, offset float64, rng *rand.Rand) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, attackW, attackH))
	b := src.Bounds()
	for y := 0; y < attackH; y++ {
		for x := 0; x < attackW; x++ {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			w := m[6]*fx + m[7]*fy + m[8]
			sx := (m[0]*fx+m[1]*fy+m[2])/w - 0.5
			sy := (m[3]*fx+m[4]*fy+m[5])/w - 0.5
			var px [3]float64
			if sx < 0 || sy < 0 || sx >= float64(b.Dx()-1) || sy >= float64(b.Dy()-1) {
				px = [3]float64{96, 96, 96}
			} else {
				x0, y0 := int(sx), int(sy)
				ax, ay := sx-float64(x0), sy-float64(y0)
				for ch := 0; ch < 3; ch++ {
					at := func(xx, yy int) float64 { return float64(src.Pix[(yy*src.Stride)+4*xx+ch]) }
					px[ch] = (1-ay)*((1-ax)*at(x0, y0)+ax*at(x0+1, y0)) + ay*((1-ax)*at(x0, y0+1)+ax*at(x0+1, y0+1))
				}
			}
			o := dst.PixOffset(x, y)
			for ch := 0; ch < 3; ch++ {
				v := px[ch]*gain + offset
				if noise > 0 {
					v += rng.NormFloat64() * noise
				}
				dst.Pix[o+ch] = uint8(math.Max(0, math.Min(255, math.Round(v))))
			}
			dst.Pix[o+3] = 255
		}
	}
	return dst
}

func mul33(a, b [9]float64) [9]float64 {
	var c [9]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				c[3*i+j] += a[3*i+k] * b[3*k+j]
			}
		}
	}
	return c
}

func inv33(m [9]float64) [9]float64 {
	a, b, c, d, e, f, g, h, i := m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]
	det := a*(e*i-f*h) - b*(d*i-f*g) + c*(d*h-e*g)
	return [9]float64{
		(e*i - f*h) / det, (c*h - b*i) / det, (b*f - c*e) / det,
		(f*g - d*i) / det, (a*i - c*g) / det, (c*d - a*f) / det,
		(d*h - e*g) / det, (b*g - a*h) / det, (a*e - b*d) / det,
	}
}
