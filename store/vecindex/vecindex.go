// Package vecindex is the in-process vector index of the embedded store: per
// collection, an in-memory set of face templates keyed by Facial ID, searched
// by cosine similarity.
//
// Each vector is kept in two compact forms, never as float32:
//
//   - int8 components with one float32 scale (dim+4 bytes), from which the
//     cosine with a float32 probe is within about 10⁻³ of the exact value
//     for face templates (coarser with a handful of dimensions);
//   - its sign bits (dim/8 bytes; set for a component that is not
//     negative), split into a first plane of 256 bits and a second plane
//     with the rest.
//
// A search scans the first sign plane of every vector by Hamming distance
// and keeps the closest candidates (at least 4,096), refines them with the
// second plane to at least 64, and re-ranks those by the int8 cosine. For a
// 512-dimensional collection of a million faces that scans 32 MB per search
// and holds about 700 MB; docs/scale.md has the measurements behind the
// choice. Small collections (and vectors under 128 dimensions) are simply
// re-ranked whole.
//
// Memory that held a removed vector is overwritten.
package vecindex

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"

	"github.com/likeness/likeness"
)

const (
	chunkLen      = 1 << 14 // vectors per storage chunk: growth never copies the whole collection
	planeWords    = 4       // 64-bit words of sign bits in the first plane (256 bits)
	minRerank     = 64      // candidates re-ranked by the int8 cosine
	minCoarse     = 4096    // candidates kept by the first sign plane
	minCodeDim    = 128     // below this many dimensions every vector is re-ranked
	shrinkIDsFrom = 1024    // id capacity from which removals give memory back
)

// Index is a set of collections of vectors. It is safe for concurrent use:
// searches run in parallel, writes one at a time. The zero value is not
// usable; call New.
type Index struct {
	mu    sync.RWMutex
	cols  map[string]*coll
	pool  sync.Pool      // *scratch
	encs  sync.Pool      // *encoded
	hints map[string]int // Reserve for collections not made yet
	keep  int            // candidates kept by the first sign plane (minCoarse)
}

// coll is one collection: n vectors in chunks of chunkLen; vector i lives in
// chunks[i/chunkLen] at slot i%chunkLen. ids[i] is its ID.
type coll struct {
	dim    int
	aw, bw int // words of sign bits in the first and second plane
	n      int
	ids    []string
	pos    map[string]int32
	chunks []*chunk
}

type chunk struct {
	a     []uint64  // chunkLen × aw: first sign plane
	b     []uint64  // chunkLen × bw: second sign plane
	q     []int8    // chunkLen × dim: components
	scale []float32 // chunkLen: cosine = scale × Σ probe·q for a unit probe
}

// encoded is a vector in stored form, made before taking the lock.
type encoded struct {
	q     []int8
	signs []uint64 // both planes, first plane first
	scale float32
}

// scratch is per-search memory, reused across searches.
type scratch struct {
	heap  []uint64
	cands []uint64
	hits  []hit
}

// New returns an empty index.
func New() *Index {
	ix := &Index{cols: make(map[string]*coll), hints: make(map[string]int), keep: minCoarse}
	ix.pool.New = func() any { return new(scratch) }
	ix.encs.New = func() any { return new(encoded) }
	return ix
}

// Normalize returns v scaled to unit L2 norm in a new slice. It fails for an
// empty vector, a zero vector, or one with a NaN or infinite component.
func Normalize(v []float32) ([]float32, error) {
	norm, _, err := measure(v)
	if err != nil {
		return nil, err
	}
	inv := 1 / norm
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out, nil
}

// measure returns the L2 norm and the largest absolute component of v.
func measure(v []float32) (norm, maxAbs float64, err error) {
	if len(v) == 0 {
		return 0, 0, fmt.Errorf("vecindex: empty vector")
	}
	var ss float64
	var top uint32 // the largest |x| as bits: ordered like the values
	for _, x := range v {
		b := math.Float32bits(x) &^ (1 << 31)
		if b >= 0x7f800000 {
			return 0, 0, fmt.Errorf("vecindex: vector has a non-finite component")
		}
		top = max(top, b)
		f := float64(x)
		ss += f * f
	}
	if ss == 0 || math.IsInf(ss, 0) {
		return 0, 0, fmt.Errorf("vecindex: vector has no usable norm")
	}
	return math.Sqrt(ss), float64(math.Float32frombits(top)), nil
}

func newColl(dim, capacity int) *coll {
	words := (dim + 63) / 64
	aw := min(words, planeWords)
	return &coll{dim: dim, aw: aw, bw: words - aw, ids: make([]string, 0, capacity), pos: make(map[string]int32, capacity)}
}

// Reserve makes room for n vectors in the collection, so that loading them
// does not grow its tables step by step. It is only a hint.
func (ix *Index) Reserve(collection string, n int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	c := ix.cols[collection]
	if c == nil {
		ix.hints[collection] = n
		return
	}
	if n > cap(c.ids) {
		c.ids = slices.Grow(c.ids, n-len(c.ids))
		pos := make(map[string]int32, n)
		for id, i := range c.pos {
			pos[id] = i
		}
		c.pos = pos
	}
}

// Add stores v (normalised) under id in the collection, replacing any vector
// already stored under id. The first vector fixes the collection's
// dimension; a vector of another dimension is refused, as are vectors that
// Normalize refuses.
func (ix *Index) Add(collection, id string, v []float32) error {
	_, maxAbs, err := measure(v)
	if err != nil {
		return err
	}
	e := ix.encs.Get().(*encoded)
	defer ix.encs.Put(e)
	e.encode(v, maxAbs)
	defer e.wipe()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	c := ix.cols[collection]
	if c == nil {
		c = newColl(len(v), ix.hints[collection])
		delete(ix.hints, collection)
		ix.cols[collection] = c
	}
	if len(v) != c.dim {
		return fmt.Errorf("vecindex: vector has dimension %d, collection has %d", len(v), c.dim)
	}
	i, ok := c.pos[id]
	if !ok {
		if c.n == len(c.chunks)*chunkLen {
			c.chunks = append(c.chunks, &chunk{
				a:     make([]uint64, chunkLen*c.aw),
				b:     make([]uint64, chunkLen*c.bw),
				q:     make([]int8, chunkLen*c.dim),
				scale: make([]float32, chunkLen),
			})
		}
		i = int32(c.n)
		c.n++
		c.ids = append(c.ids, id)
		c.pos[id] = i
	}
	c.put(int(i), e)
	return nil
}

// encode quantises v (of largest absolute component maxAbs) into e.
func (e *encoded) encode(v []float32, maxAbs float64) {
	e.q = slices.Grow(e.q[:0], len(v))[:len(v)]
	s := float32(127 / maxAbs)
	var ss int32
	q := e.q[:len(v)]
	for t, x := range v {
		r := x * s
		// Round half away from zero without a branch: add ±0.5, truncate.
		r += math.Float32frombits(math.Float32bits(r)&(1<<31) | 0x3f000000)
		n := int32(r)
		q[t] = int8(n)
		ss += n * n
	}
	// The cosine with the quantised vector itself: a vector's similarity to
	// itself stays within 10⁻⁴ of 1.
	e.scale = float32(1 / math.Sqrt(float64(ss)))
	e.signs = signBits(v, e.signs)
}

// wipe overwrites the encoded vector.
func (e *encoded) wipe() {
	clear(e.q)
	clear(e.signs)
	e.scale = 0
}

// signBits sets bit t of the result when v[t] is not negative.
func signBits(v []float32, out []uint64) []uint64 {
	words := (len(v) + 63) / 64
	out = slices.Grow(out[:0], words)[:words]
	for w := range words {
		part := v[w*64 : min(len(v), (w+1)*64)]
		var bits uint64
		for t, x := range part {
			bits |= uint64(math.Float32bits(x)>>31^1) << t
		}
		out[w] = bits
	}
	return out
}

// put stores an encoded vector in slot i.
func (c *coll) put(i int, e *encoded) {
	ch, j := c.chunks[i/chunkLen], i%chunkLen
	copy(ch.q[j*c.dim:(j+1)*c.dim], e.q)
	ch.scale[j] = e.scale
	copy(ch.a[j*c.aw:(j+1)*c.aw], e.signs[:c.aw])
	copy(ch.b[j*c.bw:(j+1)*c.bw], e.signs[c.aw:])
}

// move copies slot from into slot to.
func (c *coll) move(to, from int) {
	tc, tj := c.chunks[to/chunkLen], to%chunkLen
	fc, fj := c.chunks[from/chunkLen], from%chunkLen
	copy(tc.q[tj*c.dim:(tj+1)*c.dim], fc.q[fj*c.dim:(fj+1)*c.dim])
	copy(tc.a[tj*c.aw:(tj+1)*c.aw], fc.a[fj*c.aw:(fj+1)*c.aw])
	copy(tc.b[tj*c.bw:(tj+1)*c.bw], fc.b[fj*c.bw:(fj+1)*c.bw])
	tc.scale[tj] = fc.scale[fj]
}

// wipe overwrites slot i.
func (c *coll) wipe(i int) {
	ch, j := c.chunks[i/chunkLen], i%chunkLen
	clear(ch.q[j*c.dim : (j+1)*c.dim])
	clear(ch.a[j*c.aw : (j+1)*c.aw])
	clear(ch.b[j*c.bw : (j+1)*c.bw])
	ch.scale[j] = 0
}

// wipeAll overwrites every chunk.
func (c *coll) wipeAll() {
	for _, ch := range c.chunks {
		clear(ch.q)
		clear(ch.a)
		clear(ch.b)
		clear(ch.scale)
	}
	c.chunks = nil
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
	last := c.n - 1
	if int(i) != last {
		c.move(int(i), last)
		c.ids[i] = c.ids[last]
		c.pos[c.ids[i]] = i
	}
	c.wipe(last)
	c.ids[last] = ""
	c.ids = c.ids[:last]
	c.n = last
	delete(c.pos, id)
	if c.n == 0 {
		c.wipeAll()
		delete(ix.cols, collection)
		return true
	}
	if full := (c.n + chunkLen - 1) / chunkLen; len(c.chunks) > full {
		c.chunks[full] = nil // every slot of it has been wiped
		c.chunks = c.chunks[:full]
	}
	if cap(c.ids) >= shrinkIDsFrom && c.n <= cap(c.ids)/4 {
		// Give memory back after many removals.
		c.ids = slices.Clip(slices.Clone(c.ids))
		pos := make(map[string]int32, c.n)
		for j, id := range c.ids {
			pos[id] = int32(j)
		}
		c.pos = pos
	}
	return true
}

// Drop removes a whole collection, overwriting its vectors.
func (ix *Index) Drop(collection string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if c := ix.cols[collection]; c != nil {
		c.wipeAll()
		delete(ix.cols, collection)
	}
}

// Clear removes every collection, overwriting the vectors.
func (ix *Index) Clear() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for name, c := range ix.cols {
		c.wipeAll()
		delete(ix.cols, name)
	}
	clear(ix.hints)
}

// Len returns the number of vectors in the collection.
func (ix *Index) Len(collection string) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if c := ix.cols[collection]; c != nil {
		return c.n
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

// Collections returns the names of the non-empty collections.
func (ix *Index) Collections() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	names := make([]string, 0, len(ix.cols))
	for name := range ix.cols {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// IDs returns a copy of the collection's IDs, in storage order.
func (ix *Index) IDs(collection string) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if c := ix.cols[collection]; c != nil {
		return slices.Clone(c.ids)
	}
	return nil
}

// Search returns up to k vectors of the collection most similar to q, best
// first, with their cosine similarity (within about 10⁻³ of the exact
// value). q need not be normalised. It returns nil when k < 1, the
// collection is empty, or q is unusable or of another dimension. Equal
// similarities are ordered by ID.
func (ix *Index) Search(collection string, q []float32, k int) []likeness.Match {
	if k < 1 {
		return nil
	}
	nq, err := Normalize(q)
	if err != nil {
		return nil
	}
	sc := ix.pool.Get().(*scratch)
	defer ix.pool.Put(sc)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	c := ix.cols[collection]
	if c == nil || c.dim != len(nq) {
		return nil
	}
	k = min(k, c.n)
	rerank := max(minRerank, 2*k)
	var cands []uint64 // low 32 bits: the slot
	switch {
	case c.n <= rerank || c.dim < minCodeDim:
		cands = sc.cands[:0]
		for i := range c.n {
			cands = append(cands, uint64(i))
		}
	default:
		qa, qb := c.signs(nq)
		coarse := max(ix.keep, 4*rerank)
		cands = c.coarse(qa, coarse, sc.heap[:0])
		sc.heap = cands
		cands = c.refine(qb, cands, rerank, sc.cands[:0])
	}
	sc.cands = cands
	hits := sc.hits[:0]
	for _, key := range cands {
		i := int(uint32(key))
		ch, j := c.chunks[i/chunkLen], i%chunkLen
		s := dotI8(nq, ch.q[j*c.dim:(j+1)*c.dim]) * ch.scale[j]
		hits = append(hits, hit{s: s, i: int32(i)})
	}
	sc.hits = hits
	slices.SortFunc(hits, func(a, b hit) int {
		switch {
		case a.s > b.s:
			return -1
		case a.s < b.s:
			return 1
		}
		return compareStrings(c.ids[a.i], c.ids[b.i])
	})
	out := make([]likeness.Match, min(k, len(hits)))
	for j := range out {
		out[j] = likeness.Match{FacialID: c.ids[hits[j].i], Similarity: min(1, max(-1, hits[j].s))}
	}
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type hit struct {
	s float32
	i int32
}

// signs returns the two sign planes of a probe.
func (c *coll) signs(v []float32) (a, b []uint64) {
	all := signBits(v, nil)
	return all[:c.aw], all[c.aw:]
}

// coarse returns the keep slots closest to the probe by the Hamming distance
// of the first sign plane, as keys distance<<32 | slot, in no order. Keys
// below the current bound collect in buf; when it holds twice keep, the keep
// smallest stay and the largest of them becomes the bound.
func (c *coll) coarse(qa []uint64, keep int, buf []uint64) []uint64 {
	bound := uint64(math.MaxUint64)
	limit := 2 * keep
	for ci, ch := range c.chunks {
		m := min(chunkLen, c.n-ci*chunkLen)
		base := uint64(ci * chunkLen)
		if c.aw == 4 {
			q0, q1, q2, q3 := qa[0], qa[1], qa[2], qa[3]
			a := ch.a[:m*4]
			for j := 0; j+4 <= len(a); j += 4 {
				w := a[j : j+4 : j+4]
				d := bits.OnesCount64(w[0]^q0) + bits.OnesCount64(w[1]^q1) +
					bits.OnesCount64(w[2]^q2) + bits.OnesCount64(w[3]^q3)
				if key := uint64(d)<<32 | (base + uint64(j/4)); key < bound {
					buf = append(buf, key)
					if len(buf) == limit {
						buf, bound = shrink(buf, keep)
					}
				}
			}
			continue
		}
		for j := range m {
			w := ch.a[j*c.aw : (j+1)*c.aw]
			d := 0
			for t, x := range w {
				d += bits.OnesCount64(x ^ qa[t])
			}
			if key := uint64(d)<<32 | (base + uint64(j)); key < bound {
				buf = append(buf, key)
				if len(buf) == limit {
					buf, bound = shrink(buf, keep)
				}
			}
		}
	}
	if len(buf) > keep {
		buf, _ = shrink(buf, keep)
	}
	return buf
}

// shrink keeps the keep smallest keys of buf (in no order) and returns them
// with the largest of them.
func shrink(buf []uint64, keep int) ([]uint64, uint64) {
	selectSmallest(buf, keep)
	buf = buf[:keep]
	return buf, slices.Max(buf)
}

// selectSmallest reorders h so that its k smallest values come first.
func selectSmallest(h []uint64, k int) {
	lo, hi := 0, len(h)-1
	for lo < hi {
		// Median of three as the pivot.
		mid := lo + (hi-lo)/2
		if h[mid] < h[lo] {
			h[mid], h[lo] = h[lo], h[mid]
		}
		if h[hi] < h[lo] {
			h[hi], h[lo] = h[lo], h[hi]
		}
		if h[hi] < h[mid] {
			h[hi], h[mid] = h[mid], h[hi]
		}
		p := h[mid]
		i, j := lo, hi
		for i <= j {
			for h[i] < p {
				i++
			}
			for h[j] > p {
				j--
			}
			if i <= j {
				h[i], h[j] = h[j], h[i]
				i++
				j--
			}
		}
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}

// refine adds the second plane's distance to each coarse candidate and
// returns the keep best, as keys distance<<32 | slot.
func (c *coll) refine(qb []uint64, coarse []uint64, keep int, out []uint64) []uint64 {
	out = out[:0]
	for _, key := range coarse {
		i := int(uint32(key))
		d := key >> 32
		if c.bw > 0 {
			ch, j := c.chunks[i/chunkLen], i%chunkLen
			for t, x := range ch.b[j*c.bw : (j+1)*c.bw] {
				d += uint64(bits.OnesCount64(x ^ qb[t]))
			}
		}
		out = append(out, d<<32|uint64(i))
	}
	if len(out) > keep {
		selectSmallest(out, keep)
		out = out[:keep]
	}
	return out
}

// dotI8 returns Σ a[i]·b[i] over len(a), four lanes at a time.
func dotI8(a []float32, b []int8) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x := a[i : i+4 : i+4]
		y := b[i : i+4 : i+4]
		s0 += x[0] * float32(y[0])
		s1 += x[1] * float32(y[1])
		s2 += x[2] * float32(y[2])
		s3 += x[3] * float32(y[3])
	}
	for ; i < len(a); i++ {
		s0 += a[i] * float32(b[i])
	}
	return (s0 + s1) + (s2 + s3)
}
