package eval

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/pad"
)

// TestStillAttackFrames: every species makes distinct 640×480 JPEG frames,
// the same ones for the same seed.
func TestStillAttackFrames(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 300, 400))
	for y := 0; y < 400; y++ {
		for x := 0; x < 300; x++ {
			src.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	for _, sp := range StillSpecies {
		a, b := StillAttack(src, sp, 3, 7), StillAttack(src, sp, 3, 7)
		if len(a) != 3 {
			t.Fatalf("%s: %d frames", sp, len(a))
		}
		for i := range a {
			if !bytes.Equal(a[i], b[i]) {
				t.Errorf("%s: frame %d differs for the same seed", sp, i)
			}
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(a[i]))
			if err != nil || cfg.Width != 640 || cfg.Height != 480 {
				t.Errorf("%s: frame %d is %v %dx%d", sp, i, err, cfg.Width, cfg.Height)
			}
		}
		if bytes.Equal(a[0], a[1]) {
			t.Errorf("%s: consecutive frames are identical", sp)
		}
	}
}

// TestSimulate: the session simulation on synthetic faces — a still moved
// about is asked to turn and, not turning, refused; a moving head is
// accepted; frames the passive model refuses are refused at once.
func TestSimulate(t *testing.T) {
	face := func(yaw, shift float64, live float32) analysed {
		var l engine.Landmarks
		c, s := math.Cos(yaw*math.Pi/180), math.Sin(yaw*math.Pi/180)
		for k := range l {
			a := 2 * math.Pi * float64(k) / 68
			x, y := math.Cos(a), 1.3*math.Sin(a)
			z := 0.6 * math.Cos(3*a) // a bumpy outline: depth
			if k == 30 {
				z = 1 // the nose
			}
			l[k] = engine.Point{X: float32(320 + shift + 80*(c*x+s*z)), Y: float32(240 + 80*y)}
		}
		e := make([]float32, 4)
		e[0], e[1] = 1, float32(shift)/100
		return analysed{ok: true, usable: true, face: engine.Face{Landmarks: l, Liveness: live, Embedding: e, EyesOpen: [2]float32{1, 1}}}
	}
	var still, moving, refused []analysed
	for i := 0; i < 30; i++ {
		still = append(still, face(0, float64(i%5), 1))
		moving = append(moving, face(float64(i%5)*4-8, float64(i%3), 1))
		refused = append(refused, face(float64(i%5)*4, 0, 0.1))
	}
	if s := simulate(still, 0, false, nil); s.Outcome != OutcomeRefused || s.Prompts == "" || s.Signal != pad.ReasonTimeout {
		t.Errorf("still: %+v, want refused after a prompt", s)
	}
	if s := simulate(moving, 0, false, nil); s.Outcome != OutcomeAccepted || s.Prompts != "" {
		t.Errorf("moving head: %+v, want accepted without a prompt", s)
	}
	if s := simulate(refused, 0, false, nil); s.Outcome != OutcomeRefused || s.Signal != pad.ReasonPassive {
		t.Errorf("passive refusal: %+v", s)
	}
	if s := simulate(moving, 0, true, []string{pad.PromptTurnLeft}); s.Outcome != OutcomeRefused {
		t.Errorf("strict, never turning: %+v, want refused", s)
	}
	// A still interleaved with someone else's moving head: refused as two
	// faces, at both levels; otherFace finds the other face, not the same.
	other := make([]analysed, len(moving))
	for i, a := range moving {
		a.face.Embedding = []float32{0, 0, 1, 0}
		other[i] = a
	}
	if got := otherFace(still, [][]analysed{moving, other}, 0); len(got) == 0 || &got[0] != &other[0] {
		t.Error("otherFace did not pick the clip of another face")
	}
	if got := otherFace(still, [][]analysed{moving}, 0); got != nil {
		t.Error("otherFace picked a clip of the same face")
	}
	for _, strict := range []bool{false, true} {
		if s := simulate(interleave(still, other, interleaveEvery), 0, strict, nil); s.Outcome != OutcomeRefused || s.Signal != pad.ReasonMixed {
			t.Errorf("interleaved (strict %v): %+v, want refused as mixed", strict, s)
		}
	}
}

// TestRunPADBadInput: unreadable images and clips are reported as errors,
// count as refused (an attack image is not accepted), and never stop the
// run.
func TestRunPADBadInput(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "labels.csv"), []byte("path,identity,kind,source,spoof_type\n"+
		"pad/live/a.jpg,x,live,,\npad/spoof/b.jpg,,spoof,,print\npad/spoof/missing.jpg,,spoof,,print\n"), 0o600)
	os.MkdirAll(filepath.Join(dir, "pad", "live"), 0o700)
	os.MkdirAll(filepath.Join(dir, "pad", "spoof"), 0o700)
	os.MkdirAll(filepath.Join(dir, "video"), 0o700)
	os.WriteFile(filepath.Join(dir, "pad", "live", "a.jpg"), []byte("not an image"), 0o600)
	os.WriteFile(filepath.Join(dir, "pad", "spoof", "b.jpg"), []byte{0xff, 0xd8, 0xff, 0}, 0o600)
	os.WriteFile(filepath.Join(dir, "video", "live_x.mjpeg"), []byte("garbage"), 0o600)
	eng, err := engine.New(engine.Config{ModelsDir: filepath.Join("..", "models"), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	r, err := RunPAD(context.Background(), eng, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) != 3 {
		t.Errorf("errors %+v, want the three pad files", r.Errors)
	}
	for _, s := range r.Species {
		if s.Accepted != 0 {
			t.Errorf("species %+v: an unreadable attack was accepted", s)
		}
	}
	if r.BonaFide[0].Presentations != 1 || r.BonaFide[0].Refused != 1 {
		t.Errorf("bona fide images %+v: an unreadable live image counts as refused", r.BonaFide[0])
	}
	if r.Persisted {
		t.Error("persisted")
	}
}
