package vecindex

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/likeness/likeness/store/vecindex/synth"
)

func TestExpScanRank(t *testing.T) {
	s := os.Getenv("LIKENESS_SCAN_N")
	if s == "" {
		t.Skip()
	}
	n, _ := strconv.Atoi(s)
	const dim = 512
	g := synth.New(7, dim)
	ix := New()
	var keepv [][]float32
	var keepi []int
	t0 := time.Now()
	for i := range n {
		v := g.Identity()
		if i%(n/400) == 0 {
			keepv = append(keepv, v)
			keepi = append(keepi, i)
		}
		_ = ix.Add("c", strconv.Itoa(i), v)
	}
	t.Logf("build %v", time.Since(t0))
	c := ix.cols["c"]
	for _, kind := range []string{"normal", "hard"} {
		var ranks []int
		var tscan, tscore time.Duration
		for p, v := range keepv {
			sim := g.Genuine()
			if kind == "hard" {
				sim = synth.GenuineMin + 0.08*g.Float()
			}
			q := g.Probe(v, sim)
			sc := ix.pool.Get().(*scratch)
			probe := append([]float32(nil), q...)
			st := time.Now()
			keys := c.scan(ix, sc, probe, 65536)
			tscan += time.Since(st)
			var gd uint64 = 1 << 40
			for _, k := range keys {
				if int(uint32(k)) == keepi[p] {
					gd = k >> 32
				}
			}
			r := 0
			for _, k := range keys {
				if k>>32 < gd {
					r++
				}
			}
			ranks = append(ranks, r)
			st = time.Now()
			for _, k := range keys[:4096] {
				c.score(probe, int(uint32(k)))
			}
			tscore += time.Since(st)
			ix.pool.Put(sc)
		}
		slices.Sort(ranks)
		m := len(ranks)
		t.Logf("%s: genuine rank p50 %d p90 %d p95 %d p99 %d max %d; scan %v/q score4096 %v/q", kind, ranks[m/2], ranks[m*9/10], ranks[m*95/100], ranks[m*99/100], ranks[m-1], tscan/time.Duration(m), tscore/time.Duration(m))
	}
}
