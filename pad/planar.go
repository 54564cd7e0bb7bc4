// Package pad decides whether a stream of camera frames shows a live,
// three-dimensional head or one flat image moved in front of the camera
// (a print, a screen, an injected still), from the 68 face landmarks of the
// frames, small crops of their faces' texture (TextureParallax) and the
// times the server received them. It is pure computation: no models, no
// I/O, no clock of its own.
package pad

import (
	"math"
	"sort"

	"github.com/likeness/likeness/engine"
)

// homography is a 3×3 projective transform, row-major, h[8] = 1.
type homography [9]float64

func (h *homography) apply(x, y float64) (float64, float64) {
	w := h[6]*x + h[7]*y + h[8]
	if math.Abs(w) < 1e-9 {
		w = 1e-9
	}
	return (h[0]*x + h[1]*y + h[2]) / w, (h[3]*x + h[4]*y + h[5]) / w
}

// normaliser moves a point set to zero mean and unit mean distance ·√2
// (Hartley), which keeps the linear fit well conditioned.
type normaliser struct{ cx, cy, s float64 }

func normalise(p *engine.Landmarks) normaliser {
	var n normaliser
	for _, q := range p {
		n.cx += float64(q.X)
		n.cy += float64(q.Y)
	}
	n.cx /= float64(len(p))
	n.cy /= float64(len(p))
	var d float64
	for _, q := range p {
		d += math.Hypot(float64(q.X)-n.cx, float64(q.Y)-n.cy)
	}
	d /= float64(len(p))
	n.s = math.Sqrt2 / math.Max(d, 1e-6)
	return n
}

func (n normaliser) of(q engine.Point) (float64, float64) {
	return (float64(q.X) - n.cx) * n.s, (float64(q.Y) - n.cy) * n.s
}

// fitHomography fits, by weighted linear least squares (DLT with h33 = 1 on
// normalised coordinates), the homography taking src onto dst. Weights of
// zero leave a point out. It returns false when the points are degenerate.
func fitHomography(src, dst *engine.Landmarks, w []float64) (homography, bool) {
	ns, nd := normalise(src), normalise(dst)
	var ata [8][8]float64
	var atb [8]float64
	add := func(row [8]float64, b, wt float64) {
		for i := range row {
			for j := range row {
				ata[i][j] += wt * row[i] * row[j]
			}
			atb[i] += wt * row[i] * b
		}
	}
	for k := range src {
		if w[k] == 0 {
			continue
		}
		x, y := ns.of(src[k])
		u, v := nd.of(dst[k])
		add([8]float64{x, y, 1, 0, 0, 0, -u * x, -u * y}, u, w[k])
		add([8]float64{0, 0, 0, x, y, 1, -v * x, -v * y}, v, w[k])
	}
	sol, ok := solve8(ata, atb)
	if !ok {
		return homography{}, false
	}
	hn := homography{sol[0], sol[1], sol[2], sol[3], sol[4], sol[5], sol[6], sol[7], 1}
	// Undo the normalisations: H = Td⁻¹ · Hn · Ts.
	ts := [9]float64{ns.s, 0, -ns.s * ns.cx, 0, ns.s, -ns.s * ns.cy, 0, 0, 1}
	tdInv := [9]float64{1 / nd.s, 0, nd.cx, 0, 1 / nd.s, nd.cy, 0, 0, 1}
	h := mul3(tdInv, mul3(hn, ts))
	if math.Abs(h[8]) < 1e-12 {
		return homography{}, false
	}
	for i := range h {
		h[i] /= h[8]
	}
	return h, true
}

func mul3(a, b [9]float64) [9]float64 {
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

// solve8 solves a symmetric 8×8 system by Gaussian elimination with partial
// pivoting.
func solve8(a [8][8]float64, b [8]float64) ([8]float64, bool) {
	const n = 8
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12 {
			return b, false
		}
		a[c], a[p] = a[p], a[c]
		b[c], b[p] = b[p], b[c]
		for r := c + 1; r < n; r++ {
			f := a[r][c] / a[c][c]
			for k := c; k < n; k++ {
				a[r][k] -= f * a[c][k]
			}
			b[r] -= f * b[c]
		}
	}
	var x [8]float64
	for r := n - 1; r >= 0; r-- {
		s := b[r]
		for k := r + 1; k < n; k++ {
			s -= a[r][k] * x[k]
		}
		x[r] = s / a[r][r]
	}
	return x, true
}

// interOcular is the distance between the eye centres, at least 1 pixel.
func interOcular(l *engine.Landmarks) float64 {
	f := l.Five()
	return math.Max(1, math.Hypot(float64(f[1].X-f[0].X), float64(f[1].Y-f[0].Y)))
}

// NonPlanarity is how far the landmarks of b are from being the landmarks
// of a carried by one planar motion: the root-mean-square distance, over
// all 68 points, between b and the best homography image of a, divided by
// b's inter-ocular distance. The homography is fitted robustly (iteratively
// reweighted, Huber weights at 2 % of the eye distance), so the rigid
// majority of the points sets the motion and what moves on its own — a
// blinking eye, a mouth, a nose turning against the face outline — shows
// in the residual instead of bending the fit. A print or a screen moved,
// scaled, rotated or tilted gives only the landmark model's own jitter.
// Degenerate points, for which no transform can be fitted, give 0: they
// are no evidence of depth.
func NonPlanarity(a, b *engine.Landmarks) float64 {
	var w [68]float64
	for i := range w {
		w[i] = 1
	}
	iod := interOcular(b)
	huber := huberIOD * iod
	var res [68]float64
	for it := 0; it < 4; it++ {
		h, ok := fitHomography(a, b, w[:])
		if !ok {
			return 0
		}
		for k := range a {
			x, y := h.apply(float64(a[k].X), float64(a[k].Y))
			res[k] = math.Hypot(x-float64(b[k].X), y-float64(b[k].Y))
			w[k] = 1
			if res[k] > huber {
				w[k] = huber / res[k]
			}
		}
	}
	var s float64
	for _, r := range res {
		s += r * r
	}
	return math.Sqrt(s/float64(len(res))) / iod
}

// huberIOD is where the robust fit starts to down-weight a point: 2 % of
// the eye distance, around the landmark model's own jitter on stills
// (session statistics 0.004–0.025, docs/BENCHMARKS.md).
const huberIOD = 0.02

// quantile returns the q-quantile (0–1) of v by nearest rank; v is sorted
// in place.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	i := int(math.Ceil(q*float64(len(v)))) - 1
	return v[max(0, min(len(v)-1, i))]
}
