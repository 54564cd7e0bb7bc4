package vecindex

import (
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/likeness/likeness/store/vecindex/synth"
)

func TestZZKeep(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	n := 1000000
	g := synth.New(5, 512)
	ix := New()
	var probes [][]float32
	var want []int
	for i := range n {
		v := g.Identity()
		ix.Add("c", strconv.Itoa(i), v)
		if i%2500 == 0 {
			probes = append(probes, g.Probe(v, synth.GenuineMin+0.08*g.Float()))
			want = append(want, i)
		}
	}
	for _, keep := range []int{2048, 4096, 8192, 16384} {
		ix.keep = keep
		hits := 0
		var lat []float64
		for i, p := range probes {
			t0 := time.Now()
			m := ix.Search("c", p, 1)
			lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
			if m[0].FacialID == strconv.Itoa(want[i]) {
				hits++
			}
		}
		sort.Float64s(lat)
		t.Logf("keep %5d: hard recall %.3f (%d/%d)  p50 %.2f ms p99 %.2f ms", keep, float64(hits)/float64(len(probes)), hits, len(probes), lat[len(lat)/2], lat[len(lat)*99/100])
	}
}
