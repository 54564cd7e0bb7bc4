package engine

import "math"

// PatchSize is the side, in pixels, of a FacePatch.
const PatchSize = 128

// patchMargin is how much larger than the face box a patch is: the box
// grown by 20 % keeps the forehead and the cheeks' edges inside.
const patchMargin = 1.2

// Patch is a small grayscale crop of a face, PatchSize×PatchSize pixels,
// for measuring motion from image texture (pad.TextureParallax). Patch
// pixel (u, v) — its centre — lies at image coordinates
// (X0 + Scale·u, Y0 + Scale·v). Like the frame it comes from, it lives only
// in memory: never logged or stored. The zero Patch is no patch.
type Patch struct {
	Pix    []uint8 // PatchSize*PatchSize luma values, row-major
	X0, Y0 float32 // image coordinates of pixel (0, 0)'s centre
	Scale  float32 // image pixels per patch pixel
}

// Valid reports whether p holds a patch.
func (p *Patch) Valid() bool {
	return len(p.Pix) == PatchSize*PatchSize && p.Scale > 0 && !math.IsNaN(float64(p.Scale))
}

// FacePatch crops the square of side patchMargin × the larger side of box,
// centred on it, out of img as luma (BT.601), resampled to
// PatchSize×PatchSize: bilinear, averaging ⌈Scale⌉² samples a pixel when
// the face is larger than the patch, so a downscale does not alias. Parts
// outside the image are filled with the nearest edge pixel. A degenerate
// box or image gives the zero Patch. It costs about PatchSize² × ⌈Scale⌉²
// bilinear samples (well under a millisecond).
func FacePatch(img *Image, box Box) Patch {
	side := float64(patchMargin * max(box.W(), box.H()))
	if img == nil || img.W < 2 || img.H < 2 || len(img.Pix) < 3*img.W*img.H ||
		!(side >= 1) || math.IsInf(side, 0) {
		return Patch{}
	}
	s := side / PatchSize
	cx, cy := float64(box.X1+box.X2)/2, float64(box.Y1+box.Y2)/2
	// Pixel centres: patch u ↔ image x0 + s·u, the square's first pixel
	// centre half a patch pixel inside its left edge (image pixel centres
	// are at integer coordinates).
	x0, y0 := cx-side/2+s/2-0.5, cy-side/2+s/2-0.5
	n := max(1, int(math.Ceil(s-1e-6)))
	// Sub-sample offsets spread evenly over the patch pixel's footprint.
	off := make([]float64, n)
	for k := range off {
		off[k] = s * ((float64(k)+0.5)/float64(n) - 0.5)
	}
	// The luma of the image rows and columns the samples can reach (edges
	// clamped), computed once: a sample then reads four values.
	reach := s/2 + 1
	gx0, gy0 := int(math.Floor(x0-reach)), int(math.Floor(y0-reach))
	gw := int(math.Ceil(s*PatchSize+2*reach)) + 2
	g := make([]float32, gw*gw)
	for j := 0; j < gw; j++ {
		y := min(max(gy0+j, 0), img.H-1)
		row := img.Pix[3*y*img.W : 3*(y+1)*img.W]
		for i := 0; i < gw; i++ {
			x := 3 * min(max(gx0+i, 0), img.W-1)
			g[j*gw+i] = 0.299*float32(row[x]) + 0.587*float32(row[x+1]) + 0.114*float32(row[x+2])
		}
	}
	pix := make([]uint8, PatchSize*PatchSize)
	norm := 1 / float32(n*n)
	for v := 0; v < PatchSize; v++ {
		yc := y0 + s*float64(v) - float64(gy0)
		for u := 0; u < PatchSize; u++ {
			xc := x0 + s*float64(u) - float64(gx0)
			var sum float32
			for _, dy := range off {
				y := yc + dy
				iy := int(y)
				fy := float32(y - float64(iy))
				r0, r1 := g[iy*gw:(iy+1)*gw], g[(iy+1)*gw:(iy+2)*gw]
				for _, dx := range off {
					x := xc + dx
					ix := int(x)
					fx := float32(x - float64(ix))
					a := r0[ix] + fx*(r0[ix+1]-r0[ix])
					b := r1[ix] + fx*(r1[ix+1]-r1[ix])
					sum += a + fy*(b-a)
				}
			}
			pix[v*PatchSize+u] = uint8(min(255, sum*norm+0.5))
		}
	}
	return Patch{Pix: pix, X0: float32(x0), Y0: float32(y0), Scale: float32(s)}
}
