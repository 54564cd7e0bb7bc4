package weaviate

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"math"
	"math/rand/v2"
)

// rotation is a secret orthogonal matrix: the only form in which a template
// leaves the process. An orthogonal map keeps every cosine similarity, so
// HNSW search over rotated vectors finds what it would find over the
// templates; without the matrix the stored vectors are not comparable with
// any real face template, nor with another collection's (each collection,
// and each compaction epoch of it, has its own). The matrix is derived from
// the collection secret, itself derived from the application's data key:
// destroying that key leaves the stored vectors meaningless.
type rotation struct {
	dim int
	m   []float32 // dim × dim, row-major, orthonormal rows
}

// newRotation derives the rotation of one collection epoch and dimension.
func newRotation(secret []byte, epoch, dim int) (*rotation, error) {
	seed, err := hkdf.Key(sha256.New, secret, nil, fmt.Sprintf("likeness weaviate rotation v1 epoch=%d dim=%d", epoch, dim), 32)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewChaCha8([32]byte(seed)))
	clear(seed)
	// Gram–Schmidt (modified, twice for stability) on Gaussian rows.
	g := make([]float64, dim*dim)
	for i := range g {
		g[i] = r.NormFloat64()
	}
	for i := range dim {
		row := g[i*dim : (i+1)*dim]
		for range 2 {
			for j := range i {
				prev := g[j*dim : (j+1)*dim]
				var d float64
				for t := range dim {
					d += row[t] * prev[t]
				}
				for t := range dim {
					row[t] -= d * prev[t]
				}
			}
		}
		var ss float64
		for _, x := range row {
			ss += x * x
		}
		inv := 1 / math.Sqrt(ss)
		for t := range row {
			row[t] *= inv
		}
	}
	m := make([]float32, dim*dim)
	for i, x := range g {
		m[i] = float32(x)
	}
	clear(g)
	return &rotation{dim: dim, m: m}, nil
}

// apply returns R·v.
func (r *rotation) apply(v []float32) []float32 {
	out := make([]float32, r.dim)
	for i := range r.dim {
		row := r.m[i*r.dim : (i+1)*r.dim]
		var s float64
		for t, x := range v {
			s += float64(row[t]) * float64(x)
		}
		out[i] = float32(s)
	}
	return out
}

// invert returns Rᵀ·v, the vector R·x = v came from.
func (r *rotation) invert(v []float32) []float32 {
	acc := make([]float64, r.dim)
	for i, x := range v {
		row := r.m[i*r.dim : (i+1)*r.dim]
		for t := range acc {
			acc[t] += float64(row[t]) * float64(x)
		}
	}
	out := make([]float32, r.dim)
	for t, x := range acc {
		out[t] = float32(x)
	}
	return out
}

// destroy overwrites the matrix.
func (r *rotation) destroy() {
	if r != nil {
		clear(r.m)
	}
}
