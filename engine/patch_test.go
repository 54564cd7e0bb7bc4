package engine

import (
	"math"
	"testing"
)

// rampImage is a w×h image whose luma is x/4 + y/8 (grey, so luma = value).
func rampImage(w, h int) *Image {
	img := &Image{W: w, H: h, Pix: make([]uint8, 3*w*h)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8(x/4 + y/8)
			o := 3 * (y*w + x)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2] = v, v, v
		}
	}
	return img
}

func TestFacePatchMapsToImage(t *testing.T) {
	img := rampImage(640, 480)
	for _, box := range []Box{
		{X1: 200, Y1: 120, X2: 300, Y2: 240}, // upscaled (side 144 > 128? no: 1.2·120 = 144 → downscale 1.125)
		{X1: 250, Y1: 200, X2: 300, Y2: 250}, // upscaled: side 60
		{X1: 100, Y1: 50, X2: 400, Y2: 400},  // downscaled ×3.3, partly outside
	} {
		p := FacePatch(img, box)
		if !p.Valid() {
			t.Fatalf("%v: no patch", box)
		}
		want := float32(1.2*max(box.W(), box.H())) / PatchSize
		if math.Abs(float64(p.Scale-want)) > 1e-4 {
			t.Errorf("%v: scale %v, want %v", box, p.Scale, want)
		}
		// Inside the image, the patch pixel's value is the ramp at its
		// image position (up to the ramp's integer steps and averaging).
		for _, uv := range [][2]int{{10, 10}, {64, 64}, {100, 30}, {127, 127}} {
			x := float64(p.X0) + float64(p.Scale)*float64(uv[0])
			y := float64(p.Y0) + float64(p.Scale)*float64(uv[1])
			if x < 4 || y < 8 || x > 630 || y > 470 {
				continue
			}
			want := x/4 + y/8
			got := float64(p.Pix[uv[1]*PatchSize+uv[0]])
			if math.Abs(got-want) > 2 {
				t.Errorf("%v: pixel %v = %v, want %.1f (image %.1f,%.1f)", box, uv, got, want, x, y)
			}
		}
	}
}

func TestFacePatchDegenerate(t *testing.T) {
	img := rampImage(64, 48)
	for name, c := range map[string]struct {
		img *Image
		box Box
	}{
		"nil image":    {nil, Box{0, 0, 10, 10}},
		"empty box":    {img, Box{10, 10, 10, 10}},
		"inverted":     {img, Box{20, 20, 10, 10}},
		"NaN box":      {img, Box{float32(math.NaN()), 0, 10, 10}},
		"infinite":     {img, Box{0, 0, float32(math.Inf(1)), 10}},
		"short pixels": {&Image{W: 64, H: 48, Pix: make([]uint8, 10)}, Box{0, 0, 10, 10}},
		"one pixel":    {&Image{W: 1, H: 1, Pix: make([]uint8, 3)}, Box{0, 0, 1, 1}},
	} {
		if p := FacePatch(c.img, c.box); p.Valid() {
			t.Errorf("%s: got a patch", name)
		}
	}
	// Far outside the image: edge pixels, no panic.
	if p := FacePatch(img, Box{1000, 1000, 1100, 1100}); !p.Valid() {
		t.Error("box outside the image: no patch")
	}
}

// BenchmarkFacePatch times the per-frame crop on a 640×480 camera frame
// with a 200-pixel face (NUAA's and the widget's size):
//
//	go test ./engine -run '^$' -bench FacePatch -cpu 1
func BenchmarkFacePatch(b *testing.B) {
	img := rampImage(640, 480)
	box := Box{X1: 220, Y1: 140, X2: 420, Y2: 340}
	for i := 0; i < b.N; i++ {
		FacePatch(img, box)
	}
}
