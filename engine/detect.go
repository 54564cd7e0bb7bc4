package engine

import (
	"math"
	"sort"
)

// Detector geometry: fr_detect.onnx takes a 320×240 RGB image normalised as
// (p-127)/128 and returns, for 4,420 anchors, softmaxed scores [bg, face] and
// boxes already decoded to 0..1 of the input.
const (
	detW, detH = 320, 240
	detAnchors = 4420
	nmsIoU     = 0.4
)

// Box is a rectangle in image pixels.
type Box struct{ X1, Y1, X2, Y2 float32 }

// W returns the width.
func (b Box) W() float32 { return b.X2 - b.X1 }

// H returns the height.
func (b Box) H() float32 { return b.Y2 - b.Y1 }

func (b Box) area() float32 { return max(0, b.W()) * max(0, b.H()) }

func iou(a, b Box) float32 {
	ix := min(a.X2, b.X2) - max(a.X1, b.X1)
	iy := min(a.Y2, b.Y2) - max(a.Y1, b.Y1)
	if ix <= 0 || iy <= 0 {
		return 0
	}
	inter := ix * iy
	return inter / (a.area() + b.area() - inter)
}

type detection struct {
	box   Box
	score float32
}

// letterbox returns the scale and offset that fit an image of w×h into the
// detector input without distortion, centred, with padding around it. pad is
// the fraction of the input kept as margin on every side (tight crops need
// context around the face for the anchors to fire).
func letterbox(w, h int, pad float64) (scale, offX, offY float64) {
	availW := detW * (1 - 2*pad)
	availH := detH * (1 - 2*pad)
	scale = math.Min(availW/float64(w), availH/float64(h))
	offX = (detW - scale*float64(w)) / 2
	offY = (detH - scale*float64(h)) / 2
	return scale, offX, offY
}

// detectInput fills t with the letterboxed image and returns the mapping back.
func detectInput(p *pyramid, dst []float32, pad float64) (scale, offX, offY float64) {
	img := p.base()
	scale, offX, offY = letterbox(img.W, img.H, pad)
	// dst (x, y) → src ((x - offX)/scale, ...) on pixel centres.
	inv := 1 / scale
	m := affine{A: inv, C: (0.5-offX)*inv - 0.5, E: inv, F: (0.5-offY)*inv - 0.5}
	p.sample(dst, detW, detH, m, layoutRGB, 127, 1.0/128, 127)
	return scale, offX, offY
}

// decodeDetections turns the raw outputs into boxes in image pixels, keeping
// those scoring at least minScore, after non-maximum suppression.
func decodeDetections(scores, boxes []float32, scale, offX, offY float64, imgW, imgH int, minScore float32) []detection {
	var cands []detection
	for i := 0; i < detAnchors; i++ {
		s := scores[2*i+1]
		if s < minScore {
			continue
		}
		b := boxes[4*i : 4*i+4]
		box := Box{
			X1: float32((float64(b[0])*detW - offX) / scale),
			Y1: float32((float64(b[1])*detH - offY) / scale),
			X2: float32((float64(b[2])*detW - offX) / scale),
			Y2: float32((float64(b[3])*detH - offY) / scale),
		}
		box.X1, box.Y1 = max(box.X1, 0), max(box.Y1, 0)
		box.X2, box.Y2 = min(box.X2, float32(imgW)), min(box.Y2, float32(imgH))
		if box.W() < 8 || box.H() < 8 {
			continue
		}
		cands = append(cands, detection{box, s})
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	var keep []detection
	for _, c := range cands {
		ok := true
		for _, k := range keep {
			if iou(c.box, k.box) > nmsIoU {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, c)
		}
	}
	return keep
}

// fitSquare returns a square crop of side scale×side centred on (cx, cy),
// shrunk so it fits in the image and shifted inside it — the crop the
// landmark, liveness and age models were trained on.
func fitSquare(cx, cy, side, scale float64, w, h int) (x0, y0, s float64) {
	scale = math.Min(scale, math.Min(float64(h-1)/side, float64(w-1)/side))
	s = side * scale
	x0, y0 = cx-s/2, cy-s/2
	x0 = math.Max(0, math.Min(x0, float64(w-1)-s))
	y0 = math.Max(0, math.Min(y0, float64(h-1)-s))
	return x0, y0, s
}
