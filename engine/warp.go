package engine

import "math"

// affine maps a destination pixel centre (x, y) to source coordinates:
// sx = A*x + B*y + C, sy = D*x + E*y + F.
type affine struct{ A, B, C, D, E, F float64 }

// scaleOf is how many source pixels one destination pixel spans.
func (m affine) scaleOf() float64 { return math.Sqrt(math.Abs(m.A*m.E - m.B*m.D)) }

// cropAffine maps a w×h destination onto the source square/rectangle with
// top-left (x0, y0) and size (sw, sh).
func cropAffine(x0, y0, sw, sh float64, w, h int) affine {
	ax, ay := sw/float64(w), sh/float64(h)
	// Pixel centres: dst x+0.5 ↔ src x0 + (x+0.5)*ax, expressed on centres.
	return affine{A: ax, C: x0 + 0.5*ax - 0.5, E: ay, F: y0 + 0.5*ay - 0.5}
}

// channel orders for sampled tensors.
type layout int

const (
	layoutRGB layout = iota
	layoutBGR
	layoutGray
)

// pyramid holds an image and its 2× box-filtered reductions, made on demand,
// so that large downscales average pixels instead of aliasing.
type pyramid struct {
	levels []*Image
}

func newPyramid(img *Image) *pyramid { return &pyramid{levels: []*Image{img}} }

func (p *pyramid) base() *Image { return p.levels[0] }

// level returns reduction k (image size / 2^k), making it if needed.
func (p *pyramid) level(k int) *Image {
	for len(p.levels) <= k {
		last := p.levels[len(p.levels)-1]
		if last.W < 4 || last.H < 4 {
			return last
		}
		p.levels = append(p.levels, last.half())
	}
	return p.levels[k]
}

// sample renders the w×h destination through m into dst as planes (CHW),
// each value (v-mean)*scale. Pixels that fall outside the image take fill.
// Downscales beyond 2× read from a reduced pyramid level.
func (p *pyramid) sample(dst []float32, w, h int, m affine, lay layout, mean, scale, fill float32) {
	k := 0
	for s := m.scaleOf(); s > 2 && k < 6; s /= 2 {
		k++
	}
	img := p.level(k)
	if k > 0 {
		// Level k pixel centre u corresponds to base coordinate (u+0.5)*2^k-0.5.
		f := math.Ldexp(1, -k)
		m = affine{A: m.A * f, B: m.B * f, C: (m.C+0.5)*f - 0.5, D: m.D * f, E: m.E * f, F: (m.F+0.5)*f - 0.5}
	}
	plane := w * h
	fillV := (fill - mean) * scale
	W, H := img.W, img.H
	pix := img.Pix
	if m.A == 1 && m.E == 1 && m.B == 0 && m.D == 0 && m.C == math.Trunc(m.C) && m.F == math.Trunc(m.F) &&
		m.C >= 0 && m.F >= 0 && int(m.C)+w <= W && int(m.F)+h <= H && lay != layoutGray {
		// An exact pixel-aligned window (e.g. a 640×480 frame's half level is
		// the detector input): copy without interpolating.
		ox, oy := int(m.C), int(m.F)
		r, bch := 0, 2
		if lay == layoutBGR {
			r, bch = 2, 0
		}
		for y := 0; y < h; y++ {
			src := pix[3*((oy+y)*W+ox):]
			d := dst[y*w : y*w+w]
			dg := dst[plane+y*w : plane+y*w+w]
			db := dst[2*plane+y*w : 2*plane+y*w+w]
			for x := range d {
				d[x] = (float32(src[3*x+r]) - mean) * scale
				dg[x] = (float32(src[3*x+1]) - mean) * scale
				db[x] = (float32(src[3*x+bch]) - mean) * scale
			}
		}
		return
	}
	maxX, maxY := float64(W)-0.5, float64(H)-0.5
	for y := 0; y < h; y++ {
		fy := float64(y)
		// Source coordinates advance by (A, D) along a row.
		sx, sy := m.B*fy+m.C, m.E*fy+m.F
		for x := 0; x < w; x, sx, sy = x+1, sx+m.A, sy+m.D {
			i := y*w + x
			if sx < -0.5 || sy < -0.5 || sx > maxX || sy > maxY {
				dst[i] = fillV
				if lay != layoutGray {
					dst[plane+i], dst[2*plane+i] = fillV, fillV
				}
				continue
			}
			// Bilinear with edge clamping. sx, sy ≥ -0.5: shifted by one,
			// truncation is the floor.
			x0 := int(sx+1) - 1
			y0 := int(sy+1) - 1
			ax := float32(sx - float64(x0))
			ay := float32(sy - float64(y0))
			x1, y1 := x0+1, y0+1
			x0, x1 = clampInt(x0, W-1), clampInt(x1, W-1)
			y0, y1 = clampInt(y0, H-1), clampInt(y1, H-1)
			p00, p01 := 3*(y0*W+x0), 3*(y0*W+x1)
			p10, p11 := 3*(y1*W+x0), 3*(y1*W+x1)
			var c [3]float32
			for ch := 0; ch < 3; ch++ {
				top := float32(pix[p00+ch]) + ax*(float32(pix[p01+ch])-float32(pix[p00+ch]))
				bot := float32(pix[p10+ch]) + ax*(float32(pix[p11+ch])-float32(pix[p10+ch]))
				c[ch] = top + ay*(bot-top)
			}
			switch lay {
			case layoutRGB:
				dst[i], dst[plane+i], dst[2*plane+i] = (c[0]-mean)*scale, (c[1]-mean)*scale, (c[2]-mean)*scale
			case layoutBGR:
				dst[i], dst[plane+i], dst[2*plane+i] = (c[2]-mean)*scale, (c[1]-mean)*scale, (c[0]-mean)*scale
			case layoutGray:
				dst[i] = (luma(c[0], c[1], c[2]) - mean) * scale
			}
		}
	}
}

func luma(r, g, b float32) float32 { return 0.299*r + 0.587*g + 0.114*b }

func clampInt(v, hi int) int {
	if v < 0 {
		return 0
	}
	if v > hi {
		return hi
	}
	return v
}
