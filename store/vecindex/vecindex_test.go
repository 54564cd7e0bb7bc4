package vecindex

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/vecindex/synth"
	"github.com/likeness/likeness/store/vecindex/vectest"
)

func TestContract(t *testing.T) {
	vectest.Run(t, func(t *testing.T) likeness.VectorIndex { return NewVectors() })
}

func randVec(r *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// naive is the reference: normalise everything, score all in float64, sort.
func naive(vecs map[string][]float32, q []float32) map[string]float64 {
	nq, _ := Normalize(q)
	out := map[string]float64{}
	for id, v := range vecs {
		nv, _ := Normalize(v)
		var s float64
		for i := range nv {
			s += float64(nv[i]) * float64(nq[i])
		}
		out[id] = s
	}
	return out
}

func TestSearchMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ dim, n int }{{1, 300}, {3, 300}, {4, 300}, {7, 300}, {128, 300}, {513, 300}, {256, 5000}, {512, 5000}} {
		t.Run(fmt.Sprintf("dim%d_n%d", tc.dim, tc.n), func(t *testing.T) {
			ix := New()
			vecs := map[string][]float32{}
			for i := range tc.n {
				id := fmt.Sprintf("id%05d", i)
				v := randVec(r, tc.dim)
				vecs[id] = v
				if err := ix.Add("c", id, v); err != nil {
					t.Fatal(err)
				}
			}
			// Remove a third, in a scattered order, to exercise swap-remove.
			for i := 0; i < tc.n; i += 3 {
				id := fmt.Sprintf("id%05d", (i*7)%tc.n)
				if _, ok := vecs[id]; !ok {
					continue
				}
				if !ix.Remove("c", id) {
					t.Fatalf("Remove(%s) = false", id)
				}
				delete(vecs, id)
			}
			if ix.Len("c") != len(vecs) {
				t.Fatalf("Len = %d, want %d", ix.Len("c"), len(vecs))
			}
			ids := slices.Sorted(maps.Keys(vecs))
			for p := range 20 {
				// Probes near a stored vector, as real searches are; the
				// vector is chosen by the seeded generator, not by map order,
				// so a failure can be replayed.
				q := append([]float32(nil), vecs[ids[(p*37+r.IntN(len(ids)))%len(ids)]]...)
				for i := range q {
					q[i] += 0.3 * float32(r.NormFloat64()) / float32(math.Sqrt(float64(tc.dim)))
				}
				exact := naive(vecs, q)
				// 6-bit components: each is off by at most half a step
				// (max|x|/62, with max|x| about 3.5/√dim) and the rounding
				// errors are independent, so a dot product drifts by about
				// 0.033/√dim (sd): 1.5×10⁻³ for 512 dimensions. The
				// tolerance is six sd.
				tol := 0.2 / math.Sqrt(float64(tc.dim))
				for _, k := range []int{1, 5, 1000} {
					got := ix.Search("c", q, k)
					if want := min(k, len(vecs)); len(got) != want {
						t.Fatalf("k=%d: %d results, want %d", k, len(got), want)
					}
					for i, m := range got {
						if d := math.Abs(float64(m.Similarity) - exact[m.FacialID]); d > tol {
							t.Fatalf("k=%d rank %d: similarity %v, exact %v", k, i, m.Similarity, exact[m.FacialID])
						}
						if i > 0 && got[i].Similarity > got[i-1].Similarity {
							t.Fatal("results not best first")
						}
					}
					// The best match is the exact best, up to quantisation.
					best := math.Inf(-1)
					for _, s := range exact {
						best = max(best, s)
					}
					if exact[got[0].FacialID] < best-2*tol {
						t.Fatalf("k=%d: top similarity %v, exact best %v", k, exact[got[0].FacialID], best)
					}
				}
			}
		})
	}
}

func TestIndexBehaviour(t *testing.T) {
	ix := New()
	a := []float32{3, 4}  // normalised to 0.6, 0.8
	b := []float32{0, -2} // 0, -1
	if err := ix.Add("app1", "a", a); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add("app1", "b", b); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		col  string
		q    []float32
		k    int
		want []string
	}{
		{"exact match first", "app1", []float32{0.6, 0.8}, 2, []string{"a", "b"}},
		{"opposite ranks last", "app1", []float32{0, -1}, 2, []string{"b", "a"}},
		{"k caps results", "app1", []float32{1, 1}, 1, []string{"a"}},
		{"k zero", "app1", []float32{1, 1}, 0, nil},
		{"other collection sees nothing", "app2", []float32{0.6, 0.8}, 5, nil},
		{"dimension mismatch", "app1", []float32{1, 0, 0}, 5, nil},
		{"zero probe", "app1", []float32{0, 0}, 5, nil},
		{"NaN probe", "app1", []float32{float32(math.NaN()), 1}, 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ix.Search(tt.col, tt.q, tt.k)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].FacialID != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
	if m := ix.Search("app1", []float32{3, 4}, 1); math.Abs(float64(m[0].Similarity)-1) > 1e-3 {
		t.Fatalf("self similarity %v, want 1", m[0].Similarity)
	}
	if err := ix.Add("app1", "c", []float32{1, 2, 3}); err == nil {
		t.Fatal("Add accepted a vector of another dimension")
	}
	for _, bad := range [][]float32{nil, {0, 0}, {float32(math.Inf(1)), 0}} {
		if err := ix.Add("app1", "c", bad); err == nil {
			t.Fatalf("Add accepted %v", bad)
		}
	}
	// Replacing keeps one entry.
	if err := ix.Add("app1", "a", []float32{0, -1}); err != nil {
		t.Fatal(err)
	}
	if ix.Len("app1") != 2 {
		t.Fatalf("Len after replace = %d", ix.Len("app1"))
	}
	// Equal similarities are ordered by ID.
	if m := ix.Search("app1", []float32{0, -1}, 2); m[0].FacialID != "a" || m[1].FacialID != "b" {
		t.Fatalf("ties: %v, want a then b", m)
	}
	if ix.Remove("app2", "a") {
		t.Fatal("Remove from another collection succeeded")
	}
	if !ix.Remove("app1", "a") || ix.Remove("app1", "a") {
		t.Fatal("Remove did not report presence correctly")
	}
	ix.Remove("app1", "b")
	if ix.Len("app1") != 0 || ix.Dim("app1") != 0 || ix.Search("app1", []float32{0, 1}, 1) != nil {
		t.Fatal("emptied collection still answers")
	}
	// An emptied collection accepts a new dimension.
	if err := ix.Add("app1", "x", []float32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	ix.Drop("app1")
	if ix.Len("app1") != 0 {
		t.Fatal("Drop left vectors")
	}
}

// allZero reports whether every slot at or after n in the collection's
// chunks is zero: components, scale, ID and sign bits.
func allZero(c *coll) bool {
	for ci, ch := range c.chunks {
		for j := range chunkLen {
			if ci*chunkLen+j < c.n {
				continue
			}
			if ch.scale[j] != 0 || ch.keys[j] != (uuidKey{}) {
				return false
			}
			for _, x := range ch.code[j*c.codeLen : (j+1)*c.codeLen] {
				if x != 0 {
					return false
				}
			}
			for t := range c.dim {
				if ch.cols[t*chunkWords+j/64]>>(j%64)&1 != 0 {
					return false
				}
			}
		}
	}
	return true
}

// zero reports whether a released chunk holds nothing.
func zero(ch *chunk) bool {
	return !slices.ContainsFunc(ch.code, func(x byte) bool { return x != 0 }) &&
		!slices.ContainsFunc(ch.cols, func(x uint64) bool { return x != 0 }) &&
		!slices.ContainsFunc(ch.keys, func(x uuidKey) bool { return x != uuidKey{} })
}

func TestRemoveOverwritesMemory(t *testing.T) {
	ix := New()
	r := rand.New(rand.NewPCG(4, 4))
	n := chunkLen + 100 // two chunks
	for i := range n {
		if err := ix.Add("c", strconv.Itoa(i), randVec(r, 300)); err != nil {
			t.Fatal(err)
		}
	}
	c := ix.cols["c"]
	first := c.chunks[0]
	second := c.chunks[1]
	for i := range 150 {
		ix.Remove("c", strconv.Itoa(i*3))
	}
	if len(c.chunks) != 1 {
		t.Fatalf("%d chunks after emptying the second", len(c.chunks))
	}
	if !allZero(c) {
		t.Fatal("a removed vector remains in a vacated slot")
	}
	if !zero(second) {
		t.Fatal("the released chunk was not overwritten")
	}
	ix.Drop("c")
	if !zero(first) {
		t.Fatal("Drop did not overwrite the vectors")
	}
}

func TestConcurrent(t *testing.T) {
	ix := New()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := range 200 {
				id := fmt.Sprintf("%d-%d", w, i)
				if err := ix.Add("c", id, randVec(r, 160)); err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					ix.Remove("c", id)
				}
			}
		})
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 10))
			for range 200 {
				m := ix.Search("c", randVec(r, 160), 3)
				for i := 1; i < len(m); i++ {
					if m[i].Similarity > m[i-1].Similarity {
						t.Error("unordered results")
					}
				}
				_ = ix.Len("c")
			}
		})
	}
	wg.Wait()
	if got, want := ix.Len("c"), 4*(200-67); got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
}

// TestGenuineRecall checks recall@1 against exact search for new photos of
// enrolled faces in a synthetic gallery: 50,000 faces by default
// (LIKENESS_RECALL_N overrides; `likeness bench index` runs ten million).
// The sign scan keeps only 64 candidates here (0.13% of the gallery, the
// share it keeps of 50,000 faces in a collection of 40 million), with the
// AVX-512 counting and without it, so that a weaker scan fails the test.
func TestGenuineRecall(t *testing.T) {
	n := 50000
	switch {
	case raceEnabled:
		n = 4000
	case testing.Short():
		n = 10000
	}
	if s := os.Getenv("LIKENESS_RECALL_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const dim, queries = 512, 300
	g := synth.New(21, dim)
	ix := New()
	gallery := make([]float32, 0, n*dim)
	for i := range n {
		v := g.Identity()
		gallery = append(gallery, v...)
		if err := ix.Add("c", strconv.Itoa(i), v); err != nil {
			t.Fatal(err)
		}
	}
	probes := make([][]float32, queries)
	hard := 0
	for i := range probes {
		j := g.IntN(n)
		sim := g.Genuine()
		if i%10 == 0 { // one in ten at the hardest genuine similarities seen
			sim = synth.GenuineMin + 0.08*g.Float()
			hard++
		}
		probes[i] = g.Probe(gallery[j*dim:(j+1)*dim], sim)
	}
	best, _ := synth.Exact(gallery, dim, probes, 2)
	ix.cands = 0 // the 64 the search keeps for k = 1
	for _, simd := range []bool{true, false} {
		ix.simd = simd
		hits := 0
		for i, p := range probes {
			if m := ix.Search("c", p, 1); len(m) == 1 && m[0].FacialID == strconv.Itoa(best[i]) {
				hits++
			}
		}
		recall := float64(hits) / queries
		t.Logf("n=%d, AVX-512 %v: recall@1 %.4f over %d genuine probes (%d hard)", n, simd, recall, queries, hard)
		if recall < 0.99 {
			t.Fatalf("recall@1 %.4f, want ≥ 0.99", recall)
		}
	}
}

// TestIDs checks the ID table against a map through random adds,
// replacements and removals of UUIDs and other IDs, which come back exactly
// as given.
func TestIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	ix := New()
	want := map[string][]float32{}
	var pool []string
	for i := range 3000 {
		switch i % 4 {
		case 0:
			pool = append(pool, benchUUID(r))
		case 1:
			pool = append(pool, strings.ToUpper(benchUUID(r))) // not canonical: kept as given
		case 2:
			pool = append(pool, "face-"+strconv.Itoa(i))
		default:
			pool = append(pool, benchUUID(r)[:35]+"g") // almost a UUID
		}
	}
	steps := 20000
	if testing.Short() || raceEnabled {
		steps = 4000
	}
	for step := range steps {
		id := pool[r.IntN(len(pool))]
		if r.IntN(3) == 0 {
			_, had := want[id]
			if ix.Remove("c", id) != had {
				t.Fatalf("step %d: Remove(%q) disagrees with the reference", step, id)
			}
			delete(want, id)
			continue
		}
		v := randVec(r, 128)
		if err := ix.Add("c", id, v); err != nil {
			t.Fatal(err)
		}
		want[id] = v
	}
	if got := ix.Len("c"); got != len(want) {
		t.Fatalf("Len = %d, want %d", got, len(want))
	}
	ids := ix.IDs("c")
	slices.Sort(ids)
	if !slices.Equal(ids, slices.Sorted(maps.Keys(want))) {
		t.Fatal("IDs differ from the reference")
	}
	for id, v := range want {
		if m := ix.Search("c", v, 1); len(m) != 1 || m[0].FacialID != id {
			t.Fatalf("Search for %q's own vector: %v", id, m)
		}
	}
	if err := ix.Add("c", "", randVec(r, 128)); err == nil {
		t.Fatal("Add accepted an empty ID")
	}
}

// BenchmarkSearch times top-1 searches with genuine probes; LIKENESS_BENCH_N
// sets the collection size (default 1,000 and 100,000).
func BenchmarkSearch(b *testing.B) {
	sizes := []int{1000, 100000}
	if s := os.Getenv("LIKENESS_BENCH_N"); s != "" {
		n, _ := strconv.Atoi(s)
		sizes = []int{n}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			g := synth.New(1, 512)
			ix := New()
			var ids [][]float32
			for i := range n {
				v := g.Identity()
				if i < 100 {
					ids = append(ids, v)
				}
				_ = ix.Add("c", fmt.Sprint(i), v)
			}
			qs := make([][]float32, len(ids))
			for i, v := range ids {
				qs[i] = g.Probe(v, g.Genuine())
			}
			i := 0
			b.ResetTimer()
			for b.Loop() {
				ix.Search("c", qs[i%len(qs)], 1)
				i++
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	v, err := Normalize([]float32{3, 4})
	if err != nil || math.Abs(float64(v[0])-0.6) > 1e-7 || math.Abs(float64(v[1])-0.8) > 1e-7 {
		t.Fatalf("Normalize = %v, %v", v, err)
	}
}
