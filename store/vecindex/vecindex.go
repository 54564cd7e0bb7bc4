// Package vecindex is the in-process vector index of the embedded store: per
// collection, an in-memory set of L2-normalised float32 vectors keyed by
// Facial ID, searched exactly by cosine similarity.
//
// It is brute force over contiguous memory; a faster index can replace it
// behind the same methods.
package vecindex

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/likeness/likeness"
)

// Index is a set of collections of vectors. It is safe for concurrent use.
// The zero value is not usable; call New.
type Index struct {
	mu   sync.RWMutex
	cols map[string]*coll
}

// coll stores n vectors of dim float32 each back to back in vecs; the
// vector of ids[i] is vecs[i*dim : (i+1)*dim].
type coll struct {
	dim  int
	ids  []string
	vecs []float32
	pos  map[string]int
}

// New returns an empty index.
func New() *Index {
	return &Index{cols: make(map[string]*coll)}
}

// Normalize returns v scaled to unit L2 norm in a new slice. It fails for an
// empty vector, a zero vector, or one with a NaN or infinite component.
func Normalize(v []float32) ([]float32, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("vecindex: empty vector")
	}
	var ss float64
	for _, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("vecindex: vector has a non-finite component")
		}
		ss += f * f
	}
	if ss == 0 || math.IsInf(ss, 0) {
		return nil, fmt.Errorf("vecindex: vector has no usable norm")
	}
	inv := 1 / math.Sqrt(ss)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out, nil
}

// Add stores a normalised copy of v under id in the collection, replacing any
// vector already stored under id. The first vector fixes the collection's
// dimension; a vector of another dimension is refused, as are vectors that
// Normalize refuses.
func (ix *Index) Add(collection, id string, v []float32) error {
	nv, err := Normalize(v)
	if err != nil {
		return err
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	c := ix.cols[collection]
	if c == nil {
		c = &coll{dim: len(nv), pos: make(map[string]int)}
		ix.cols[collection] = c
	}
	if len(nv) != c.dim {
		return fmt.Errorf("vecindex: vector has dimension %d, collection has %d", len(nv), c.dim)
	}
	if i, ok := c.pos[id]; ok {
		copy(c.vecs[i*c.dim:(i+1)*c.dim], nv)
		return nil
	}
	c.pos[id] = len(c.ids)
	c.ids = append(c.ids, id)
	if len(c.vecs)+len(nv) > cap(c.vecs) {
		c.resize(max(2*cap(c.vecs), len(c.vecs)+len(nv), 16*len(nv)))
	}
	c.vecs = append(c.vecs, nv...)
	return nil
}

// resize moves the vectors to a new array of capacity n and overwrites the
// old one, so that no copy of a removed or moved vector lingers in memory.
func (c *coll) resize(n int) {
	v := make([]float32, len(c.vecs), n)
	copy(v, c.vecs)
	clear(c.vecs[:cap(c.vecs)])
	c.vecs = v
}

// Remove deletes id from the collection and reports whether it was there. The
// memory that held the vector is overwritten.
func (ix *Index) Remove(collection, id string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	c := ix.cols[collection]
	if c == nil {
		return false
	}
	i, ok := c.pos[id]
	if !ok {
		return false
	}
	last := len(c.ids) - 1
	d := c.dim
	if i != last {
		copy(c.vecs[i*d:(i+1)*d], c.vecs[last*d:])
		c.ids[i] = c.ids[last]
		c.pos[c.ids[i]] = i
	}
	clear(c.vecs[last*d:])
	c.ids[last] = ""
	c.ids = c.ids[:last]
	c.vecs = c.vecs[:last*d]
	delete(c.pos, id)
	if last == 0 {
		delete(ix.cols, collection)
	} else if cap(c.ids) >= 64 && last <= cap(c.ids)/4 {
		// Give memory back after many removals.
		c.ids = slices.Clip(slices.Clone(c.ids))
		c.resize(len(c.vecs))
	}
	return true
}

// Drop removes a whole collection, overwriting its vectors.
func (ix *Index) Drop(collection string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if c := ix.cols[collection]; c != nil {
		clear(c.vecs[:cap(c.vecs)])
		delete(ix.cols, collection)
	}
}

// Len returns the number of vectors in the collection.
func (ix *Index) Len(collection string) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if c := ix.cols[collection]; c != nil {
		return len(c.ids)
	}
	return 0
}

// Dim returns the dimension of the collection's vectors, 0 when it is empty.
func (ix *Index) Dim(collection string) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if c := ix.cols[collection]; c != nil {
		return c.dim
	}
	return 0
}

// Search returns up to k vectors of the collection most similar to q, best
// first, with their cosine similarity. q need not be normalised. It returns
// nil when k < 1, the collection is empty, or q is unusable or of another
// dimension. Equal similarities are ordered by Facial ID.
func (ix *Index) Search(collection string, q []float32, k int) []likeness.Match {
	if k < 1 {
		return nil
	}
	nq, err := Normalize(q)
	if err != nil {
		return nil
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	c := ix.cols[collection]
	if c == nil || c.dim != len(nq) {
		return nil
	}
	n := len(c.ids)
	k = min(k, n)
	h := make(topK, 0, k)
	d := c.dim
	for i := range n {
		s := dot(nq, c.vecs[i*d:(i+1)*d])
		if len(h) < k {
			h.push(hit{s, i}, c.ids)
		} else if h.better(hit{s, i}, h[0], c.ids) {
			h[0] = hit{s, i}
			h.down(0, c.ids)
		}
	}
	out := make([]likeness.Match, len(h))
	for j := len(h) - 1; j >= 0; j-- {
		top := h[0]
		h[0] = h[len(h)-1]
		h = h[:len(h)-1]
		h.down(0, c.ids)
		out[j] = likeness.Match{FacialID: c.ids[top.i], Similarity: top.s}
	}
	return out
}

// dot returns the dot product of a and b[:len(a)], four lanes at a time.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x := a[i : i+4 : i+4]
		y := b[i : i+4 : i+4]
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

type hit struct {
	s float32
	i int
}

// topK is a min-heap of hits: the root is the worst hit kept.
type topK []hit

// better reports whether a ranks before b: higher similarity, then smaller ID.
func (h topK) better(a, b hit, ids []string) bool {
	if a.s != b.s {
		return a.s > b.s
	}
	return ids[a.i] < ids[b.i]
}

func (h *topK) push(x hit, ids []string) {
	*h = append(*h, x)
	s := *h
	j := len(s) - 1
	for j > 0 {
		p := (j - 1) / 2
		if !s.better(s[p], s[j], ids) {
			break
		}
		s[p], s[j] = s[j], s[p]
		j = p
	}
}

func (h topK) down(j int, ids []string) {
	n := len(h)
	for {
		l := 2*j + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.better(h[l], h[r], ids) {
			m = r
		}
		if !h.better(h[j], h[m], ids) {
			return
		}
		h[j], h[m] = h[m], h[j]
		j = m
	}
}

// Clear removes every collection, overwriting the vectors.
func (ix *Index) Clear() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for name, c := range ix.cols {
		clear(c.vecs[:cap(c.vecs)])
		delete(ix.cols, name)
	}
}
