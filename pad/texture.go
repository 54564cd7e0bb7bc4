package pad

import (
	"math"
	"time"

	"github.com/likeness/likeness/engine"
)

// Texture parallax: Parallax measured from the face's texture instead of
// its landmarks. The landmark model places the nose and the eye and mouth
// corners with a jitter of about a pixel from frame to frame, which hides
// the sway of a person sitting very still; aligning the skin's texture
// itself reaches under a tenth of a pixel. Each frame's patch
// (engine.FacePatch) is aligned onto the first frame's by one homography —
// the motion of a plane — fitted to the pixels around the nose but off it
// (eyes, cheeks, lower forehead, upper lip and mouth); what is left is how
// the nose's own pixels moved against that plane. A print, a screen or a
// streamed still moves as one plane: what is left is the alignment's noise.
// A live head's nose stands in front of that surface and moves against it.
const (
	// texturePlaneIOD is the radius, in eye distances from the nose tip,
	// of the pixels that set the plane: the eyes, the cheeks, the upper lip
	// and the mouth, not the face's outline (background may show there).
	texturePlaneIOD = 1.1
	// textureNoseGapIOD keeps the plane's pixels this far from the nose
	// (the cheeks next to it stand part way out).
	textureNoseGapIOD = 0.25
	// textureNoseIOD grows the nose's outline (tip, nostrils, bridge below
	// the eyes) by this much for the nose's own pixels.
	textureNoseIOD = 0.08
	// textureIters bounds the Gauss-Newton steps of each alignment at each
	// pyramid level.
	textureIters = 12
	// textureMinPlane and textureMinNose are the least numbers of pixels
	// (at full patch resolution) the plane and the nose need. The plane
	// takes every other pixel (a checkerboard) at full resolution: its
	// thousands of pixels set eight parameters, and half of them do it as
	// well at half the cost.
	textureMinPlane = 400
	textureMinNose  = 40
	// textureMinCorrelation is the least correlation of a frame's aligned
	// plane and nose pixels with the first frame's: below it the alignment
	// failed (motion blur, a first frame the landmarks got wrong) and the
	// frame is no evidence. Aligned frames of live faces and of prints
	// correlate at 0.6–1; failed alignments at 0.2 or less.
	textureMinCorrelation = 0.5
	// textureMaxSpeed is the fastest a face may move, in eye distances a
	// second (its landmarks' mean displacement from the previous frame),
	// for its frame to be evidence: faster, a webcam's exposure smears the
	// texture over several pixels and the alignment's error grows past the
	// sway it measures. A person sitting still moves well under it (NUAA's
	// live clips: mostly under 3, 0.1 s apart); a print waved in front of
	// the camera often moves over it. Frames above it are skipped, and a
	// first frame above it (against the second) gives no evidence.
	textureMaxSpeed = 4
)

// texNose is the outline of the lower nose, in order around it: bridge
// below the eyes, right ala, nostrils, left ala.
var texNose = [...]int{29, 35, 34, 33, 32, 31}

// texFace is the outline of the face: jaw, then the brows back.
var texFace = [...]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17}

// TextureParallax is how far the nose's texture moves against the plane of
// the face's texture around it over frames (in receive order): each frame's
// patch is aligned onto the first frame's by a robust homography fitted to
// the pixels within texturePlaneIOD of the nose tip but off the nose
// (initialised from the landmarks' similarity motion, coarse to fine, with
// a brightness gain and offset), then the nose pixels' remaining shift is
// found the same way. Frames that moved faster than textureMaxSpeed, or
// whose aligned pixels correlate under textureMinCorrelation with the first
// frame's, are skipped. The shifts are taken in the first frame's eye
// distances, and the result is, like Parallax, the length of the vector of
// the 10–90 % ranges of their two coordinates after a moving median over
// parallaxSmooth consecutive frames. Fewer than parallaxSmooth frames left,
// a missing patch on the first frame, or degenerate landmarks give 0: no
// evidence.
func TextureParallax(frames []Frame) float64 {
	xs, ys := textureShifts(frames)
	if len(xs) < parallaxSmooth {
		return 0
	}
	return math.Hypot(medianRange(xs), medianRange(ys))
}

// medianRange is the 10–90 % range of the moving median of v over
// parallaxSmooth values: a frame the alignment got wrong (motion blur, a
// blink on the nose's edge) is left out instead of averaged in, and a first
// frame that is itself such a frame only offsets the others.
func medianRange(v []float64) float64 {
	m := make([]float64, 0, len(v)-parallaxSmooth+1)
	w := make([]float64, parallaxSmooth)
	for i := parallaxSmooth; i <= len(v); i++ {
		copy(w, v[i-parallaxSmooth:i])
		m = append(m, quantile(w, 0.5))
	}
	hi := quantile(m, 0.9) // sorts m
	return hi - quantile(m, 0.1)
}

// TextureMemo keeps what TextureParallax found for one frame of a session
// (Frame.Memo): the frame's nose shift against the first frame it was
// aligned onto, and, on a first frame, its own template. Only in memory,
// like the frame; the zero value is empty.
type TextureMemo struct {
	ref   time.Time // the first frame's receive time the shift is against
	done  bool      // shift and ok are known for ref
	ok    bool      // the frame could be aligned
	shift [2]float64
	tpl   *template // this frame's template, once it was a first frame
	tried bool      // tpl was made (nil: the frame gives none)
}

// textureShifts returns the nose's shift against the plane, in the first
// frame's eye distances, of each frame that could be aligned (the first
// frame's is 0, 0); nil when the first frame gives no template. What the
// frames' memos hold for the same first frame is used, not recomputed.
func textureShifts(frames []Frame) (xs, ys []float64) {
	if len(frames) < parallaxSmooth || !frames[0].Patch.Valid() {
		return nil, nil
	}
	ref := &frames[0]
	if speed(ref, &frames[1]) > textureMaxSpeed {
		return nil, nil
	}
	iod := interOcular(&ref.Landmarks)
	s0 := float64(ref.Patch.Scale)
	var tpl *template
	if m := ref.Memo; m != nil && m.tried {
		tpl = m.tpl
	} else {
		tpl = newTemplate(&ref.Patch, &ref.Landmarks, iod/s0)
		if m != nil {
			m.tpl, m.tried = tpl, true
		}
	}
	if tpl == nil {
		return nil, nil
	}
	xs, ys = []float64{0}, []float64{0}
	for i := 1; i < len(frames); i++ {
		f := &frames[i]
		if !f.Patch.Valid() || speed(&frames[i-1], f) > textureMaxSpeed {
			continue
		}
		var shift [2]float64
		var ok bool
		if m := f.Memo; m != nil && m.done && m.ref.Equal(ref.At) {
			shift, ok = m.shift, m.ok
		} else {
			shift, ok = tpl.frameShift(ref, f)
			if m != nil {
				*m = TextureMemo{ref: ref.At, done: true, ok: ok, shift: shift, tpl: m.tpl, tried: m.tried}
			}
		}
		if ok {
			xs = append(xs, shift[0]*s0/iod)
			ys = append(ys, shift[1]*s0/iod)
		}
	}
	return xs, ys
}

// frameShift aligns frame f onto the template of the first frame ref and
// returns the nose's remaining shift in ref's patch pixels; false when the
// alignment failed or correlates too little.
func (t *template) frameShift(ref, f *Frame) ([2]float64, bool) {
	h, ok := initialHomography(ref, f)
	if !ok {
		return [2]float64{}, false
	}
	fit, ok := t.noseShift(newPyramid2(&f.Patch), h)
	if !ok || !(fit.plane >= textureMinCorrelation && fit.nose >= textureMinCorrelation) ||
		!finite(fit.shift[:]) {
		return [2]float64{}, false
	}
	return fit.shift, true
}

// fimage is a float grayscale image.
type fimage struct {
	w, h int
	v    []float32
}

// at samples im bilinearly at (x, y); false outside its pixel centres.
func (im *fimage) at(x, y float64) (float64, bool) {
	if !(x >= 0 && y >= 0 && x <= float64(im.w-1) && y <= float64(im.h-1)) {
		return 0, false
	}
	ix, iy := min(int(x), im.w-2), min(int(y), im.h-2)
	fx, fy := x-float64(ix), y-float64(iy)
	o := iy*im.w + ix
	a, b := float64(im.v[o]), float64(im.v[o+1])
	c, d := float64(im.v[o+im.w]), float64(im.v[o+im.w+1])
	return (a+(b-a)*fx)*(1-fy) + (c+(d-c)*fx)*fy, true
}

// half averages 2×2 blocks: pixel k of the result is centred on 2k+0.5.
func (im *fimage) half() fimage {
	w, h := im.w/2, im.h/2
	out := fimage{w, h, make([]float32, w*h)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := 2*y*im.w + 2*x
			out.v[y*w+x] = (im.v[o] + im.v[o+1] + im.v[o+im.w] + im.v[o+im.w+1]) / 4
		}
	}
	return out
}

// pyramid2 is a patch smoothed (Gaussian, σ 1 pixel, against sensor and
// JPEG noise) and its half-resolution level.
type pyramid2 [2]fimage

func newPyramid2(p *engine.Patch) *pyramid2 {
	const n = engine.PatchSize
	k := [5]float32{1.0 / 16, 4.0 / 16, 6.0 / 16, 4.0 / 16, 1.0 / 16}
	tmp := make([]float32, n*n)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			var s float32
			for d := -2; d <= 2; d++ {
				s += k[d+2] * float32(p.Pix[y*n+min(max(x+d, 0), n-1)])
			}
			tmp[y*n+x] = s
		}
	}
	l0 := fimage{n, n, make([]float32, n*n)}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			var s float32
			for d := -2; d <= 2; d++ {
				s += k[d+2] * tmp[min(max(y+d, 0), n-1)*n+x]
			}
			l0.v[y*n+x] = s
		}
	}
	return &pyramid2{l0, l0.half()}
}

// tpix is one template pixel: its position, value and gradient.
type tpix struct{ x, y, v, gx, gy float64 }

// template is the first frame's patch, ready for inverse-compositional
// alignment: the plane's and the nose's pixels at both levels.
type template struct {
	plane, nose [2][]tpix
}

// newTemplate selects the plane's and the nose's pixels of the first
// frame's patch (landmarks in image coordinates; iodP is the eye distance
// in patch pixels). It returns nil when either is too small.
func newTemplate(p *engine.Patch, l *engine.Landmarks, iodP float64) *template {
	if !(iodP >= 4) {
		return nil
	}
	s, x0, y0 := float64(p.Scale), float64(p.X0), float64(p.Y0)
	pt := func(k int) [2]float64 {
		return [2]float64{(float64(l[k].X) - x0) / s, (float64(l[k].Y) - y0) / s}
	}
	nose := make([][2]float64, len(texNose))
	for i, k := range texNose {
		nose[i] = pt(k)
	}
	face := make([][2]float64, len(texFace))
	for i, k := range texFace {
		face[i] = pt(k)
	}
	tip := pt(30)
	pyr := newPyramid2(p)
	t := &template{}
	for lv := 0; lv < 2; lv++ {
		im := &pyr[lv]
		scale := float64(int(1) << lv)
		for y := 1; y < im.h-1; y++ {
			for x := 1; x < im.w-1; x++ {
				// This pixel's centre at full resolution.
				fx, fy := scale*float64(x)+(scale-1)/2, scale*float64(y)+(scale-1)/2
				q := [2]float64{fx, fy}
				dn := polygonDistance(nose, q)
				var list *[]tpix
				switch {
				case dn <= textureNoseIOD*iodP:
					list = &t.nose[lv]
				case dn >= textureNoseGapIOD*iodP && (lv == 1 || (x+y)%2 == 0) &&
					math.Hypot(fx-tip[0], fy-tip[1]) <= texturePlaneIOD*iodP &&
					polygonDistance(face, q) == 0:
					list = &t.plane[lv]
				default:
					continue
				}
				o := y*im.w + x
				*list = append(*list, tpix{float64(x), float64(y), float64(im.v[o]),
					float64(im.v[o+1]-im.v[o-1]) / 2, float64(im.v[o+im.w]-im.v[o-im.w]) / 2})
			}
		}
	}
	if len(t.plane[0]) < textureMinPlane || len(t.nose[0]) < textureMinNose {
		return nil
	}
	return t
}

// polygonDistance is 0 inside the polygon poly and the distance to its
// outline outside.
func polygonDistance(poly [][2]float64, q [2]float64) float64 {
	inside := false
	d := math.Inf(1)
	for i := range poly {
		a, b := poly[i], poly[(i+1)%len(poly)]
		if (a[1] > q[1]) != (b[1] > q[1]) &&
			q[0] < a[0]+(q[1]-a[1])*(b[0]-a[0])/(b[1]-a[1]) {
			inside = !inside
		}
		ex, ey := b[0]-a[0], b[1]-a[1]
		u := 0.0
		if l := ex*ex + ey*ey; l > 0 {
			u = math.Min(1, math.Max(0, ((q[0]-a[0])*ex+(q[1]-a[1])*ey)/l))
		}
		d = math.Min(d, math.Hypot(q[0]-a[0]-u*ex, q[1]-a[1]-u*ey))
	}
	if inside {
		return 0
	}
	return d
}

// speed is how fast the face moved from a to b: landmarkMotion a second
// (infinite when b is not after a).
func speed(a, b *Frame) float64 {
	dt := b.At.Sub(a.At).Seconds()
	if dt <= 0 {
		return math.Inf(1)
	}
	return landmarkMotion(&a.Landmarks, &b.Landmarks) / dt
}

// initialHomography is the landmarks' least-squares similarity motion from
// the reference frame to f, as a map from the reference's patch pixels to
// f's.
func initialHomography(ref, f *Frame) (homography, bool) {
	c, s, tx, ty, spread := engine.FitSimilarity(ref.Landmarks[:], f.Landmarks[:]) // scale·cos, scale·sin
	if !(spread > 1) {
		return homography{}, false
	}
	sim := [9]float64{c, -s, tx, s, c, ty, 0, 0, 1}
	p0, p1 := &ref.Patch, &f.Patch
	toImage := [9]float64{float64(p0.Scale), 0, float64(p0.X0), 0, float64(p0.Scale), float64(p0.Y0), 0, 0, 1}
	s1 := float64(p1.Scale)
	toPatch := [9]float64{1 / s1, 0, -float64(p1.X0) / s1, 0, 1 / s1, -float64(p1.Y0) / s1, 0, 0, 1}
	return homography(mul3(toPatch, mul3(sim, toImage))), true
}

// Level changes: a level-1 pixel k is centred on level-0 coordinate 2k+0.5.
var (
	down = [9]float64{0.5, 0, -0.25, 0, 0.5, -0.25, 0, 0, 1}
	up   = [9]float64{2, 0, 0.5, 0, 2, 0.5, 0, 0, 1}
)

// textureFit is one frame's alignment onto the template: the nose's
// remaining shift, in template patch pixels (the nose pixel x of the
// template is at h(x + shift) in the frame), and how well the aligned
// plane's and nose's pixels correlate with the template's.
type textureFit struct {
	shift       [2]float64
	plane, nose float64 // correlations, -1–1
}

// noseShift aligns the plane of im onto the template, coarse to fine,
// starting from h (template patch → im patch, full resolution), then finds
// the nose's remaining shift.
func (t *template) noseShift(im *pyramid2, h homography) (textureFit, bool) {
	var f textureFit
	hl := homography(mul3(down, mul3(h, up)))
	var ok bool
	if hl, _, ok = alignPlane(t.plane[1], &im[1], hl); !ok {
		return f, false
	}
	h = homography(mul3(up, mul3(hl, down)))
	if h, f.plane, ok = alignPlane(t.plane[0], &im[0], h); !ok {
		return f, false
	}
	// The nose at half resolution first (a sway of a few pixels), then at
	// full resolution.
	var sh [2]float64
	hl = homography(mul3(down, mul3(h, up)))
	if sh, _, ok = alignShift(t.nose[1], &im[1], hl, sh); !ok {
		return f, false
	}
	f.shift, f.nose, ok = alignShift(t.nose[0], &im[0], h, [2]float64{2 * sh[0], 2 * sh[1]})
	return f, ok
}

// photometric fits the gain and offset taking the warped values iw onto the
// template's (weighted least squares); it returns 1, 0 when degenerate.
func photometric(tv, iw, w []float64) (gain, offset float64) {
	var sw, st, si, sii, sit float64
	for k := range tv {
		if w[k] == 0 {
			continue
		}
		sw += w[k]
		st += w[k] * tv[k]
		si += w[k] * iw[k]
		sii += w[k] * iw[k] * iw[k]
		sit += w[k] * iw[k] * tv[k]
	}
	den := sw*sii - si*si
	if sw == 0 || den <= 1e-9*sw*sw {
		return 1, 0
	}
	gain = (sw*sit - si*st) / den
	if !(gain > 0.5 && gain < 2) {
		return 1, (st - si) / sw
	}
	return gain, (st - gain*si) / sw
}

// huber returns robust weights for residuals e: 1 within 1.345 times their
// scale (1.4826 × the median absolute residual, estimated from the mean
// absolute residual, at least one grey level), decreasing beyond.
func huber(e, w []float64, valid []bool) {
	var sa, n float64
	for k := range e {
		if valid[k] {
			sa += math.Abs(e[k])
			n++
		}
	}
	if n == 0 {
		return
	}
	c := 1.345 * math.Max(1, 1.2533*sa/n)
	for k := range e {
		switch {
		case !valid[k]:
			w[k] = 0
		case math.Abs(e[k]) <= c:
			w[k] = 1
		default:
			w[k] = c / math.Abs(e[k])
		}
	}
}

// alignPlane refines h (template → im) by inverse-compositional
// Gauss-Newton on the plane's pixels: a homography, with a brightness gain
// and offset and Huber weights. Coordinates are centred and scaled for
// conditioning.
func alignPlane(px []tpix, im *fimage, h homography) (homography, float64, bool) {
	c, k := float64(im.w-1)/2, float64(im.w)/2
	norm := [9]float64{1 / k, 0, -c / k, 0, 1 / k, -c / k, 0, 0, 1}
	denorm := [9]float64{k, 0, c, 0, k, c, 0, 0, 1}
	n := len(px)
	tv, iw, w, e := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	valid := make([]bool, n)
	sd := make([][8]float64, n)
	for i, p := range px {
		tv[i] = p.v
		x, y := (p.x-c)/k, (p.y-c)/k
		gx, gy := p.gx*k, p.gy*k
		sd[i] = [8]float64{gx * x, gx * y, gx, gy * x, gy * y, gy, -gx*x*x - gy*x*y, -gx*x*y - gy*y*y}
		w[i] = 1
	}
	at := func(p *tpix) (float64, float64) { return h.apply(p.x, p.y) }
	for it := 0; it < textureIters; it++ {
		if !residuals(px, im, at, tv, iw, w, e, valid) {
			return h, 0, false
		}
		var a [8][8]float64
		var b [8]float64
		for i := range px {
			if w[i] == 0 {
				continue
			}
			s := &sd[i]
			for r := 0; r < 8; r++ {
				ws := w[i] * s[r]
				for q := r; q < 8; q++ {
					a[r][q] += ws * s[q]
				}
				b[r] += ws * e[i]
			}
		}
		for r := 0; r < 8; r++ {
			for q := 0; q < r; q++ {
				a[r][q] = a[q][r]
			}
		}
		dp, ok := solve8(a, b)
		if !ok {
			return h, 0, false
		}
		dh := [9]float64{1 + dp[0], dp[1], dp[2], dp[3], 1 + dp[4], dp[5], dp[6], dp[7], 1}
		inv, ok := inverse3(dh)
		if !ok {
			return h, 0, false
		}
		h = homography(mul3(h, mul3(denorm, mul3(inv, norm))))
		if !finite(h[:]) {
			return h, 0, false
		}
		if math.Abs(dp[2])*k < 0.01 && math.Abs(dp[5])*k < 0.01 &&
			(math.Abs(dp[0])+math.Abs(dp[1])+math.Abs(dp[3])+math.Abs(dp[4]))*k < 0.01 {
			break
		}
	}
	return h, correlation(tv, iw, valid), true
}

// residuals samples im where at puts each template pixel (a pixel that
// falls outside gets weight 0), fits the brightness gain and offset, and
// leaves the residuals in e and their Huber weights in w; false when fewer
// than half the pixels fall inside.
func residuals(px []tpix, im *fimage, at func(p *tpix) (float64, float64), tv, iw, w, e []float64, valid []bool) bool {
	inside := 0
	for i := range px {
		x, y := at(&px[i])
		iw[i], valid[i] = im.at(x, y)
		if valid[i] {
			inside++
		} else {
			w[i] = 0
		}
	}
	if inside < len(px)/2 {
		return false
	}
	g, o := photometric(tv, iw, w)
	for i := range e {
		e[i] = g*iw[i] + o - tv[i]
	}
	huber(e, w, valid)
	return true
}

// alignShift finds, by inverse-compositional Gauss-Newton with a brightness
// gain and offset and Huber weights, the shift t such that the template's
// pixel x is at h(x + t) in im, starting from t.
func alignShift(px []tpix, im *fimage, h homography, t [2]float64) ([2]float64, float64, bool) {
	n := len(px)
	tv, iw, w, e := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	valid := make([]bool, n)
	for i, p := range px {
		tv[i], w[i] = p.v, 1
	}
	at := func(p *tpix) (float64, float64) { return h.apply(p.x+t[0], p.y+t[1]) }
	for it := 0; it < textureIters; it++ {
		if !residuals(px, im, at, tv, iw, w, e, valid) {
			return t, 0, false
		}
		var axx, axy, ayy, bx, by float64
		for i, p := range px {
			axx += w[i] * p.gx * p.gx
			axy += w[i] * p.gx * p.gy
			ayy += w[i] * p.gy * p.gy
			bx += w[i] * p.gx * e[i]
			by += w[i] * p.gy * e[i]
		}
		det := axx*ayy - axy*axy
		if !(det > 1e-9*(axx+ayy)*(axx+ayy)) || det == 0 {
			return t, 0, false
		}
		dx, dy := (ayy*bx-axy*by)/det, (axx*by-axy*bx)/det
		t[0], t[1] = t[0]-dx, t[1]-dy
		if math.Abs(t[0]) > float64(im.w)/4 || math.Abs(t[1]) > float64(im.h)/4 {
			return t, 0, false
		}
		if math.Hypot(dx, dy) < 1e-3 {
			break
		}
	}
	return t, correlation(tv, iw, valid), true
}

// inverse3 inverts a 3×3 matrix.
func inverse3(m [9]float64) ([9]float64, bool) {
	c := [9]float64{
		m[4]*m[8] - m[5]*m[7], m[2]*m[7] - m[1]*m[8], m[1]*m[5] - m[2]*m[4],
		m[5]*m[6] - m[3]*m[8], m[0]*m[8] - m[2]*m[6], m[2]*m[3] - m[0]*m[5],
		m[3]*m[7] - m[4]*m[6], m[1]*m[6] - m[0]*m[7], m[0]*m[4] - m[1]*m[3],
	}
	det := m[0]*c[0] + m[1]*c[3] + m[2]*c[6]
	if math.Abs(det) < 1e-12 {
		return c, false
	}
	for i := range c {
		c[i] /= det
	}
	return c, true
}

func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// correlation is the Pearson correlation of a and b over the valid values.
func correlation(a, b []float64, valid []bool) float64 {
	var n, sa, sb, saa, sbb, sab float64
	for k := range a {
		if valid[k] {
			n++
			sa, sb = sa+a[k], sb+b[k]
			saa, sbb, sab = saa+a[k]*a[k], sbb+b[k]*b[k], sab+a[k]*b[k]
		}
	}
	va, vb := saa-sa*sa/max(n, 1), sbb-sb*sb/max(n, 1)
	if !(va > 0 && vb > 0) {
		return 0
	}
	return (sab - sa*sb/n) / math.Sqrt(va*vb)
}
