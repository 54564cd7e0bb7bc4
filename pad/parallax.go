package pad

import (
	"math"

	"github.com/likeness/likeness/engine"
)

// Parallax: a live head that sits still still sways by a degree or two, and
// its nose — standing 0.3–0.6 eye distances in front of the eye and mouth
// corners — moves against them as it does. A flat picture cannot show that:
// every motion of a plane (shift, scale, rotation, tilt) carries the nose
// along with the corners, so once the corners are aligned the nose stays
// where it was, up to the landmark model's jitter.
var (
	// parallaxAnchors are the eye and mouth corners: the points of a face
	// that lie closest to one plane.
	parallaxAnchors = [...]int{36, 39, 42, 45, 48, 54}
	// parallaxNose is the nose bridge, tip and nostrils.
	parallaxNose = [...]int{27, 28, 29, 30, 31, 32, 33, 34, 35}
)

// parallaxSmooth is the number of consecutive frames averaged before the
// spread is taken (half a second at 10 frames a second): the landmark
// model's jitter is independent from frame to frame and averages out; a
// head's sway does not.
const parallaxSmooth = 5

// Parallax is how far the nose moves against the plane of the eye and
// mouth corners over frames (in receive order): each frame's corners are
// carried onto the first frame's by the least-squares affine map, the mean
// displacement of the nine nose points is taken in the first frame's eye
// distances, averaged over parallaxSmooth consecutive frames, and the
// result is the length of the vector of the 10–90 % ranges of its two
// coordinates. Fewer frames than parallaxSmooth, or degenerate corners, give
// 0: no evidence.
func Parallax(ls []engine.Landmarks) float64 {
	if len(ls) < parallaxSmooth {
		return 0
	}
	ref := &ls[0]
	iod := interOcular(ref)
	xs := make([]float64, len(ls))
	ys := make([]float64, len(ls))
	for i := range ls {
		a, ok := fitAffine(&ls[i], ref)
		if !ok {
			return 0
		}
		for _, k := range parallaxNose {
			x, y := a.apply(float64(ls[i][k].X), float64(ls[i][k].Y))
			xs[i] += x - float64(ref[k].X)
			ys[i] += y - float64(ref[k].Y)
		}
		xs[i] /= float64(len(parallaxNose)) * iod
		ys[i] /= float64(len(parallaxNose)) * iod
	}
	return math.Hypot(smoothedRange(xs), smoothedRange(ys))
}

// smoothedRange is the 10–90 % range of the moving average of v over
// parallaxSmooth values.
func smoothedRange(v []float64) float64 {
	m := make([]float64, 0, len(v)-parallaxSmooth+1)
	var s float64
	for i, x := range v {
		s += x
		if i >= parallaxSmooth {
			s -= v[i-parallaxSmooth]
		}
		if i >= parallaxSmooth-1 {
			m = append(m, s/parallaxSmooth)
		}
	}
	hi := quantile(m, 0.9) // sorts m
	return hi - quantile(m, 0.1)
}

// affine is a 2-D affine map, x' = a0·x + a1·y + a2, y' = a3·x + a4·y + a5.
type affine [6]float64

func (a *affine) apply(x, y float64) (float64, float64) {
	return a[0]*x + a[1]*y + a[2], a[3]*x + a[4]*y + a[5]
}

// fitAffine fits, by least squares, the affine map taking src's parallax
// anchors onto dst's. It returns false when the anchors are degenerate.
func fitAffine(src, dst *engine.Landmarks) (affine, bool) {
	// Centre on src's anchors' mean for conditioning.
	var cx, cy float64
	for _, k := range parallaxAnchors {
		cx += float64(src[k].X)
		cy += float64(src[k].Y)
	}
	cx /= float64(len(parallaxAnchors))
	cy /= float64(len(parallaxAnchors))
	var sxx, sxy, syy, n float64
	var bx, by [3]float64
	for _, k := range parallaxAnchors {
		x, y := float64(src[k].X)-cx, float64(src[k].Y)-cy
		u, v := float64(dst[k].X), float64(dst[k].Y)
		sxx, sxy, syy, n = sxx+x*x, sxy+x*y, syy+y*y, n+1
		bx = [3]float64{bx[0] + x*u, bx[1] + y*u, bx[2] + u}
		by = [3]float64{by[0] + x*v, by[1] + y*v, by[2] + v}
	}
	// With centred x, y the normal equations split: [sxx sxy; sxy syy]
	// for the linear part, the mean for the offset.
	det := sxx*syy - sxy*sxy
	if det < 1e-9*(sxx+syy)*(sxx+syy) || det <= 0 {
		return affine{}, false
	}
	lin := func(b [3]float64) (float64, float64, float64) {
		p := (b[0]*syy - b[1]*sxy) / det
		q := (b[1]*sxx - b[0]*sxy) / det
		return p, q, b[2] / n
	}
	a0, a1, c0 := lin(bx)
	a3, a4, c1 := lin(by)
	return affine{a0, a1, c0 - a0*cx - a1*cy, a3, a4, c1 - a3*cx - a4*cy}, true
}
