package vecindex

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
)

func randVec(r *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// naive is the reference: normalise everything, score all, sort.
func naive(vecs map[string][]float32, q []float32, k int) []string {
	nq, _ := Normalize(q)
	type sc struct {
		id string
		s  float64
	}
	var all []sc
	for id, v := range vecs {
		nv, _ := Normalize(v)
		var s float64
		for i := range nv {
			s += float64(nv[i]) * float64(nq[i])
		}
		all = append(all, sc{id, s})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].s > all[j].s })
	var ids []string
	for i := 0; i < k && i < len(all); i++ {
		ids = append(ids, all[i].id)
	}
	return ids
}

func TestSearchMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, d := range []int{1, 3, 4, 7, 128, 513} {
		t.Run(fmt.Sprint("dim", d), func(t *testing.T) {
			ix := New()
			vecs := map[string][]float32{}
			for i := range 300 {
				id := fmt.Sprintf("id%03d", i)
				v := randVec(r, d)
				vecs[id] = v
				if err := ix.Add("c", id, v); err != nil {
					t.Fatal(err)
				}
			}
			// Remove a third, in a scattered order, to exercise swap-remove.
			for i := 0; i < 300; i += 3 {
				id := fmt.Sprintf("id%03d", (i*7)%300)
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
			for range 20 {
				q := randVec(r, d)
				for _, k := range []int{1, 5, 1000} {
					got := ix.Search("c", q, k)
					want := naive(vecs, q, k)
					if len(got) != len(want) {
						t.Fatalf("k=%d: %d results, want %d", k, len(got), len(want))
					}
					for i := range got {
						if got[i].FacialID != want[i] && math.Abs(float64(got[i].Similarity)-float64(ixScore(ix, want[i], q))) > 1e-5 {
							t.Fatalf("k=%d rank %d: %s, want %s", k, i, got[i].FacialID, want[i])
						}
						if i > 0 && got[i].Similarity > got[i-1].Similarity {
							t.Fatal("results not best first")
						}
					}
				}
			}
		})
	}
}

func ixScore(ix *Index, id string, q []float32) float32 {
	m := ix.Search("c", q, ix.Len("c"))
	for _, x := range m {
		if x.FacialID == id {
			return x.Similarity
		}
	}
	return float32(math.NaN())
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
	if m := ix.Search("app1", []float32{3, 4}, 1); math.Abs(float64(m[0].Similarity)-1) > 1e-6 {
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

func TestRemoveOverwritesMemory(t *testing.T) {
	ix := New()
	for i := range 100 {
		if err := ix.Add("c", fmt.Sprint(i), []float32{1, float32(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 99 {
		ix.Remove("c", fmt.Sprint(i))
	}
	c := ix.cols["c"]
	tail := c.vecs[len(c.vecs):cap(c.vecs)]
	for _, x := range tail {
		if x != 0 {
			t.Fatal("a removed vector remains in the backing array")
		}
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
				if err := ix.Add("c", id, randVec(r, 16)); err != nil {
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
				m := ix.Search("c", randVec(r, 16), 3)
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

func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			ix := New()
			for i := range n {
				_ = ix.Add("c", fmt.Sprint(i), randVec(r, 512))
			}
			q := randVec(r, 512)
			b.ResetTimer()
			for b.Loop() {
				ix.Search("c", q, 5)
			}
		})
	}
}
