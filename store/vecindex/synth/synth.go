// Package synth makes synthetic face templates for tests and benchmarks of
// the vector indexes: enrolled identities as random unit vectors and "new
// photos" of them at the genuine similarity measured on real faces
// (docs/engine.md: mean about 0.68, lowest 0.38), and exact search as the
// reference for recall.
package synth

import (
	"math"
	"math/rand/v2"
)

// Genuine similarity of a new photo of an enrolled face, as measured with
// the engine on the development set: drawn from a normal distribution
// clamped to [GenuineMin, GenuineMax].
const (
	GenuineMean = 0.68
	GenuineSD   = 0.11
	GenuineMin  = 0.38
	GenuineMax  = 0.97
)

// Gen draws vectors of one dimension from a seeded generator. It is not
// safe for concurrent use.
type Gen struct {
	r   *rand.Rand
	dim int
}

// New returns a generator of dim-dimensional vectors; the same seed gives
// the same sequence.
func New(seed uint64, dim int) *Gen {
	return &Gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), dim: dim}
}

// Identity returns a random unit vector (an enrolled face).
func (g *Gen) Identity() []float32 {
	v := make([]float32, g.dim)
	g.fill(v)
	return v
}

// Fill sets v to a random unit vector of len(v) components, like Identity
// without allocating.
func (g *Gen) Fill(v []float32) { g.fill(v) }

// Genuine returns a similarity drawn from the genuine distribution.
func (g *Gen) Genuine() float64 {
	s := GenuineMean + GenuineSD*g.r.NormFloat64()
	return min(GenuineMax, max(GenuineMin, s))
}

// Probe returns a unit vector at cosine similarity sim to the unit vector id
// (a new photo of that face): sim·id + √(1−sim²)·u with u a random unit
// vector orthogonal to id.
func (g *Gen) Probe(id []float32, sim float64) []float32 {
	u := make([]float32, len(id))
	g.fill(u)
	var d float64
	for i := range u {
		d += float64(u[i]) * float64(id[i])
	}
	var ss float64
	for i := range u {
		x := float64(u[i]) - d*float64(id[i])
		u[i] = float32(x)
		ss += x * x
	}
	inv := math.Sqrt(1-sim*sim) / math.Sqrt(ss)
	for i := range u {
		u[i] = float32(sim*float64(id[i]) + inv*float64(u[i]))
	}
	return u
}

// Float returns a uniform number in [0, 1).
func (g *Gen) Float() float64 { return g.r.Float64() }

// IntN returns a uniform integer in [0, n).
func (g *Gen) IntN(n int) int { return g.r.IntN(n) }

func (g *Gen) fill(v []float32) {
	var ss float64
	for i := range v {
		x := g.r.NormFloat64()
		v[i] = float32(x)
		ss += x * x
	}
	inv := 1 / math.Sqrt(ss)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
}

// Exact finds, for each query, the index of the most similar row of a
// gallery of unit vectors (rows of dim float32s, back to back) and that
// similarity, by brute force over float32. It uses up to workers goroutines.
func Exact(gallery []float32, dim int, queries [][]float32, workers int) (best []int, sims []float64) {
	n := len(gallery) / dim
	best = make([]int, len(queries))
	sims = make([]float64, len(queries))
	for i := range sims {
		best[i], sims[i] = -1, math.Inf(-1)
	}
	workers = max(1, workers)
	type part struct {
		best []int
		sims []float64
	}
	parts := make([]part, workers)
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			p := part{best: make([]int, len(queries)), sims: make([]float64, len(queries))}
			for i := range p.sims {
				p.best[i], p.sims[i] = -1, math.Inf(-1)
			}
			// Blocks of gallery rows stay in cache while every query passes.
			const block = 256
			for start := w * block; start < n; start += workers * block {
				end := min(n, start+block)
				for qi, q := range queries {
					for r := start; r < end; r++ {
						row := gallery[r*dim : (r+1)*dim]
						var s0, s1, s2, s3 float32
						j := 0
						for ; j+4 <= dim; j += 4 {
							s0 += q[j] * row[j]
							s1 += q[j+1] * row[j+1]
							s2 += q[j+2] * row[j+2]
							s3 += q[j+3] * row[j+3]
						}
						for ; j < dim; j++ {
							s0 += q[j] * row[j]
						}
						if s := float64((s0 + s1) + (s2 + s3)); s > p.sims[qi] {
							p.best[qi], p.sims[qi] = r, s
						}
					}
				}
			}
			parts[w] = p
		}()
	}
	for range workers {
		<-done
	}
	for _, p := range parts {
		for qi := range queries {
			if p.sims[qi] > sims[qi] || (p.sims[qi] == sims[qi] && p.best[qi] < best[qi]) {
				best[qi], sims[qi] = p.best[qi], p.sims[qi]
			}
		}
	}
	return best, sims
}
