package pad

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/likeness/likeness/engine"
)

// TestNext: the session's liveness steps, including what an attacker tries.
func TestNext(t *testing.T) {
	h := head()
	unit := func(k int) []float32 { // embeddings that differ a little frame to frame
		v := make([]float32, 8)
		v[0], v[1+k%7] = 1, 0.2
		n := float32(math.Sqrt(1.04))
		for i := range v {
			v[i] /= n
		}
		return v
	}
	mk := func(n int, gap time.Duration, live float32, pose func(i int) engine.Landmarks) []Frame {
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		out := make([]Frame, n)
		for i := range out {
			out[i] = Frame{Landmarks: pose(i), At: t0.Add(time.Duration(i) * gap), Liveness: live, Embedding: unit(i)}
		}
		return out
	}
	moving := func(i int) engine.Landmarks { return project(h, float64(i%4)*5, float64(i%3)*4, false) }
	still := project(h, 0, 0, false)
	rng := rand.New(rand.NewPCG(5, 6))
	print := func(i int) engine.Landmarks { // a still moved by a few pixels: planar, with jitter
		return moved(still, float64(i%5)*2, float64(i%3), 1+0.01*float64(i%2), 0, 0, 0, 0.4, rng)
	}
	// A person sitting still: the head sways by two or three degrees over
	// seconds (planar within PlanarTolerance; Parallax shows it).
	sway := func(i int) engine.Landmarks {
		t := float64(i) / 10
		return moved(project(h, 3*math.Sin(2*t), 2*math.Sin(1.3*t), false), 0, 0, 1, 0, 0, 0, 0.4, rng)
	}
	copies := mk(11, 100*time.Millisecond, 1, func(int) engine.Landmarks { return still })
	for i := range copies {
		copies[i].Embedding = copies[0].Embedding
	}
	// Another face interleaved with the moving one: one frame in every k
	// has an embedding orthogonal to the others.
	mixed := func(k int) []Frame {
		fr := mk(31, 100*time.Millisecond, 1, moving)
		for i := range fr {
			if i%k == 0 {
				v := make([]float32, 8)
				v[7] = 1
				fr[i].Embedding = v
			}
		}
		return fr
	}
	// Another face in two frames of every three: the fewer frames are the
	// enrolled person's still, and they are refused all the same.
	mostlyOther := mixed(1)
	for i := range mostlyOther {
		if i%3 == 0 {
			mostlyOther[i].Embedding = unit(i)
		}
	}
	// One person turning the head far left and far right: the two extremes
	// do not match each other, each matches the frames facing the camera.
	turning := mk(31, 100*time.Millisecond, 1, moving)
	for i := range turning {
		v := make([]float32, 8)
		switch i % 5 {
		case 1:
			v[0], v[6] = 0.6, 0.8
		case 3:
			v[0], v[6] = 0.6, -0.8
		default:
			continue
		}
		turning[i].Embedding = v
	}
	// The passive model on every other frame (Scored): the others' scores
	// are not looked at, whatever they hold.
	sampled := func(scored, unscored float32) []Frame {
		fr := mk(11, 100*time.Millisecond, scored, moving)
		for i := range fr {
			if !Scored(i) {
				fr[i].Unscored, fr[i].Liveness = true, unscored
			}
		}
		return fr
	}
	unscored := mk(11, 100*time.Millisecond, 1, moving)
	for i := range unscored {
		unscored[i].Unscored = true
	}
	for _, tc := range []struct {
		name   string
		fr     []Frame
		strict bool
		want   Action
		why    string
	}{
		{"too few frames", mk(4, 400*time.Millisecond, 1, moving), false, Collect, ""},
		{"not a second yet", mk(9, 100*time.Millisecond, 1, moving), false, Collect, ""},
		{"live head", mk(11, 100*time.Millisecond, 1, moving), false, Accept, ""},
		{"live head, strict", mk(11, 100*time.Millisecond, 1, moving), true, Prompt, ""},
		{"passive model refuses", mk(11, 100*time.Millisecond, 0.2, moving), false, Refuse, ReasonPassive},
		{"identical frames", copies, false, Refuse, ReasonStatic},
		{"passive on every other frame", sampled(1, 0), false, Accept, ""},
		{"passive refuses the scored frames", sampled(0.2, 1), false, Refuse, ReasonPassive},
		{"no frame scored", unscored, false, Collect, ""},
		{"two faces, one in two", mixed(2), false, Refuse, ReasonMixed},
		{"two faces, the other in two of three", mostlyOther, false, Refuse, ReasonMixed},
		{"one face turned far both ways", turning, false, Accept, ""},
		{"two faces, one in three", mixed(3), false, Refuse, ReasonMixed},
		{"two faces, one in ten", mixed(10), false, Refuse, ReasonMixed},
		{"two faces, strict", mixed(3), true, Refuse, ReasonMixed},
		{"burst", mk(30, 40*time.Millisecond, 1, moving), false, Refuse, ReasonBurst},
		{"planar for 1 s: wait for motion", mk(11, 100*time.Millisecond, 1, print), false, Collect, ""},
		{"planar for 2 s: still waiting", mk(21, 100*time.Millisecond, 1, print), false, Collect, ""},
		{"planar for 3 s: ask for a turn", mk(31, 100*time.Millisecond, 1, print), false, Prompt, ReasonPlanar},
		{"sitting still, swaying: live", mk(31, 100*time.Millisecond, 1, sway), false, Accept, ""},
		{"planar, strict", mk(11, 100*time.Millisecond, 1, print), true, Prompt, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, why := Next(tc.fr, 5, 10, tc.strict); got != tc.want || why != tc.why {
				t.Errorf("Next = %v (%s), want %v (%s)", got, why, tc.want, tc.why)
			}
		})
	}
	if v, _ := Decide(nil, 10); v == Live {
		t.Error("no frames judged live")
	}
}
