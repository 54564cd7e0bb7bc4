// Package vecindex is the in-process vector index of the embedded store: per
// collection, an in-memory set of face templates keyed by Facial ID, searched
// by cosine similarity.
//
// Each vector is kept in two compact forms, never as float32:
//
//   - its components as 6-bit integers with one float32 scale (3 bytes per
//     4 components), from which the cosine with a float32 probe is within a
//     few thousandths of the exact value for face templates;
//   - its sign bits (one per component, set for a component that is not
//     negative), stored by component: for every component, one bit per
//     vector, so that a search reads only the components it chooses.
//
// A search picks the 64 components where the probe is largest in absolute
// value: there, the sign of a genuine match agrees with the probe's far more
// often than on average, while a stranger's agrees half the time. It counts
// the disagreements of every vector on those 64 signs (64 vectors at a time,
// with a tree of carry-save adders over the bit columns; 512 at a time with
// AVX-512), keeps the vectors with the fewest, and re-ranks those by the
// 6-bit cosine. Large collections are searched by several goroutines. For
// 512-dimensional templates that reads 8 bytes per face per search and holds
// about 475 bytes per face; docs/scale.md has the measurements behind the
// choice. Small collections (and vectors under 128 dimensions) are simply
// re-ranked whole.
//
// Memory that held a removed vector is overwritten.
package vecindex

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/likeness/likeness"
)

const (
	chunkLen     = 1 << 14       // vectors per storage chunk: growth never copies the collection
	chunkWords   = chunkLen / 64 // words of one sign column in a chunk
	scanBits     = 64            // components whose signs a search compares (the assembly counts 64)
	firstBound   = 28            // disagreements (of scanBits) a scan first looks below
	minCands     = 1024          // candidates the sign scan keeps at least
	candsPer     = 4096          // and one per this many vectors above that
	minCodeDim   = 128           // below this many dimensions every vector is re-ranked
	parallelFrom = 4 * chunkLen  // collections from this size are scanned in parallel
	shrinkFrom   = 1024          // capacity from which removals give memory back
	levels       = 31            // components are quantised to -levels…levels
	rerankPer    = 1024          // candidates per goroutine re-ranking in parallel
)

// Index is a set of collections of vectors. It is safe for concurrent use:
// searches run in parallel, writes one at a time. The zero value is not
// usable; call New.
type Index struct {
	mu    sync.RWMutex
	cols  map[string]*coll
	pool  sync.Pool      // *scratch
	encs  sync.Pool      // *encoded
	bulk  sync.Pool      // *batch
	hints map[string]int // Reserve for collections not made yet
	cands int            // candidates the sign scan keeps at least (minCands)
	procs int            // goroutines searching a large collection; 0: GOMAXPROCS at the time
	simd  bool           // count with AVX-512 where the CPU has it
}

// coll is one collection: n vectors in chunks of chunkLen; vector i lives in
// chunks[i/chunkLen] at slot i%chunkLen.
type coll struct {
	dim     int
	codeLen int // bytes of one vector's 6-bit components
	n       int
	chunks  []*chunk
	names   []string // per slot: the ID when it is not a UUID; nil while every ID is one
	table   []int32  // open addressing: slot+1 of each ID, 0 for none
	seed    maphash.Seed
}

type chunk struct {
	cols  []uint64  // dim × chunkWords: bit j%64 of cols[t*chunkWords+j/64] is the sign of component t of vector j
	code  []byte    // chunkLen × codeLen: 6-bit components, four in three bytes
	scale []float32 // chunkLen: cosine = scale × Σ probe·component for a unit probe
	keys  []uuidKey // chunkLen: the IDs that are UUIDs
}

// encoded is a vector in stored form, made before taking the lock.
type encoded struct {
	code  []byte
	signs []uint64 // bit t: component t is not negative
	scale float32
}

// scratch is per-search memory, reused across searches.
type scratch struct {
	probe  []float32 // the normalised probe, padded to a multiple of 4
	sel    [scanBits]int
	masks  [scanBits]uint64
	bufs   [][]uint64 // one candidate buffer per scanning goroutine
	planes [][]uint64 // and its disagreement counts (planesGo)
	all    []uint64   // every slot, when a collection is re-ranked whole
	keys   []uint64   // re-ranked candidates by score
	hits   []hit
	order  []int
}

// New returns an empty index.
func New() *Index {
	ix := &Index{cols: make(map[string]*coll), hints: make(map[string]int), cands: minCands, simd: true}
	ix.pool.New = func() any { return new(scratch) }
	ix.encs.New = func() any { return new(encoded) }
	ix.bulk.New = func() any { return new(batch) }
	return ix
}

// workers returns how many goroutines may search one collection.
func (ix *Index) workers() int {
	if ix.procs > 0 {
		return ix.procs
	}
	return runtime.GOMAXPROCS(0)
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

// largest returns the largest absolute component of v, with the errors of
// measure: for float32 components the sum of squares (in float64) is zero
// only when this is, and never overflows.
func largest(v []float32) (float64, error) {
	if len(v) == 0 {
		return 0, fmt.Errorf("vecindex: empty vector")
	}
	// The largest |x| as bits (ordered like the values), four lanes at a
	// time so that the comparisons do not wait for each other.
	var t0, t1, t2, t3 uint32
	i := 0
	for ; i+4 <= len(v); i += 4 {
		x := (*[4]float32)(v[i:])
		t0 = max(t0, math.Float32bits(x[0])&^(1<<31))
		t1 = max(t1, math.Float32bits(x[1])&^(1<<31))
		t2 = max(t2, math.Float32bits(x[2])&^(1<<31))
		t3 = max(t3, math.Float32bits(x[3])&^(1<<31))
	}
	for _, x := range v[i:] {
		t0 = max(t0, math.Float32bits(x)&^(1<<31))
	}
	top := max(t0, t1, t2, t3)
	switch {
	case top >= 0x7f800000:
		return 0, fmt.Errorf("vecindex: vector has a non-finite component")
	case top == 0:
		return 0, fmt.Errorf("vecindex: vector has no usable norm")
	}
	return float64(math.Float32frombits(top)), nil
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
	c := &coll{dim: dim, codeLen: (dim + 3) / 4 * 3, seed: maphash.MakeSeed()}
	c.table = make([]int32, tableSize(capacity))
	c.chunks = make([]*chunk, 0, (capacity+chunkLen-1)/chunkLen)
	return c
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
	if tableSize(n) > len(c.table) {
		c.rehash(n)
	}
	c.chunks = slices.Grow(c.chunks, (n+chunkLen-1)/chunkLen-len(c.chunks))
}

// Add stores v (normalised) under id in the collection, replacing any vector
// already stored under id. The first vector fixes the collection's
// dimension; a vector of another dimension is refused, as are an empty ID
// and vectors that Normalize refuses.
func (ix *Index) Add(collection, id string, v []float32) error {
	if id == "" {
		return fmt.Errorf("vecindex: empty ID")
	}
	maxAbs, err := largest(v)
	if err != nil {
		return err
	}
	e := ix.encs.Get().(*encoded)
	defer ix.encs.Put(e)
	e.encode(v, maxAbs)
	defer e.wipe()
	key := keyOf(id)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	c, err := ix.collFor(collection, len(v))
	if err != nil {
		return err
	}
	i, pos := c.find(key)
	if i < 0 {
		c.put(c.addSlot(key, pos), e, true)
		return nil
	}
	c.put(i, e, false)
	return nil
}

// collFor returns the collection for vectors of dim dimensions, made when
// it does not exist; ix.mu is held for writing.
func (ix *Index) collFor(collection string, dim int) (*coll, error) {
	c := ix.cols[collection]
	if c == nil {
		c = newColl(dim, ix.hints[collection])
		delete(ix.hints, collection)
		ix.cols[collection] = c
	}
	if dim != c.dim {
		return nil, fmt.Errorf("vecindex: vector has dimension %d, collection has %d", dim, c.dim)
	}
	return c, nil
}

// addSlot appends an empty slot for k, which find placed at table position
// pos, and returns it; the table and the chunks grow as needed.
func (c *coll) addSlot(k slotKey, pos int) int {
	if (c.n+1)*10 > len(c.table)*7 {
		c.rehash(2 * (c.n + 1))
		_, pos = c.find(k)
	}
	if c.n == len(c.chunks)*chunkLen {
		c.chunks = append(c.chunks, &chunk{
			cols:  make([]uint64, c.dim*chunkWords),
			code:  make([]byte, chunkLen*c.codeLen),
			scale: make([]float32, chunkLen),
			keys:  make([]uuidKey, chunkLen),
		})
	}
	i := c.n
	c.n++
	c.setKey(i, k)
	c.table[pos] = int32(i + 1)
	return i
}

// setKey stores the ID of slot i.
func (c *coll) setKey(i int, k slotKey) {
	c.chunks[i/chunkLen].keys[i%chunkLen] = k.uuid
	if k.name != "" && c.names == nil {
		c.names = make([]string, c.n, max(c.n, 16))
	}
	if c.names != nil {
		if len(c.names) <= i {
			c.names = append(c.names, make([]string, i+1-len(c.names))...)
		}
		c.names[i] = k.name
	}
}

// encode quantises v (of largest absolute component maxAbs) into e.
func (e *encoded) encode(v []float32, maxAbs float64) {
	groups := (len(v) + 3) / 4
	e.code = slices.Grow(e.code[:0], 3*groups)[:3*groups]
	words := (len(v) + 63) / 64
	e.signs = slices.Grow(e.signs[:0], words)[:words]
	e.scale = encodeInto(e.code, e.signs, v, maxAbs)
}

// encodeInto quantises v (of largest absolute component maxAbs) in one
// pass: its 6-bit components into code (3 bytes per 4 components), its sign
// bits into signs ((len(v)+63)/64 words, overwritten), and the sums the
// scale needs; it returns the scale. Four components at a time, each with
// its own sums, so that the additions do not wait for each other.
func encodeInto(code []byte, signs []uint64, v []float32, maxAbs float64) float32 {
	groups := (len(v) + 3) / 4
	code = code[:3*groups]
	signs = signs[:(len(v)+63)/64]
	s := float32(levels / maxAbs)
	var vv0, vv1, vv2, vv3 float64 // Σ v²
	var vn0, vn1, vn2, vn3 float64 // Σ v·component
	var sw uint64                  // sign bits of the current 64 components
	var tail [4]float32            // the last components, padded with zeros
	for g := range groups {
		var x *[4]float32
		if 4*g+4 <= len(v) {
			x = (*[4]float32)(v[4*g:])
		} else {
			copy(tail[:], v[4*g:])
			x = &tail
		}
		b0, b1, b2, b3 := math.Float32bits(x[0]), math.Float32bits(x[1]), math.Float32bits(x[2]), math.Float32bits(x[3])
		n0, n1, n2, n3 := round6(x[0], b0, s), round6(x[1], b1, s), round6(x[2], b2, s), round6(x[3], b3, s)
		f0, f1, f2, f3 := float64(x[0]), float64(x[1]), float64(x[2]), float64(x[3])
		vv0, vv1, vv2, vv3 = vv0+f0*f0, vv1+f1*f1, vv2+f2*f2, vv3+f3*f3
		vn0, vn1, vn2, vn3 = vn0+f0*float64(n0), vn1+f1*float64(n1), vn2+f2*float64(n2), vn3+f3*float64(n3)
		w := uint32(n0+32) | uint32(n1+32)<<6 | uint32(n2+32)<<12 | uint32(n3+32)<<18
		code[3*g], code[3*g+1], code[3*g+2] = byte(w), byte(w>>8), byte(w>>16)
		// A set bit: a component that is not negative.
		nib := (b0>>31 | b1>>31<<1 | b2>>31<<2 | b3>>31<<3) ^ 15
		sw |= uint64(nib) << (4 * g % 64)
		if 4*g%64 == 60 || g == groups-1 {
			signs[4*g/64] = sw
			sw = 0
		}
	}
	if r := len(v) % 64; r != 0 {
		signs[len(signs)-1] &= 1<<r - 1 // not the padding's
	}
	clear(tail[:])
	// cosine(p, v) ≈ p·c / (v̂·c) for the components c: exactly 1 for the
	// vector itself, and the rounding errors' own length does not shrink
	// every similarity as dividing by |c| would (by ~4×10⁻⁴ at 6 bits).
	return float32(math.Sqrt((vv0+vv1)+(vv2+vv3)) / ((vn0 + vn1) + (vn2 + vn3)))
}

// round6 returns x·s (x's bits b) rounded half away from zero, without a
// branch: ±0.5 added, then truncated.
func round6(x float32, b uint32, s float32) int32 {
	return int32(float32(x*s) + math.Float32frombits(b&(1<<31)|0x3f000000))
}

// wipe overwrites the encoded vector.
func (e *encoded) wipe() {
	clear(e.code)
	clear(e.signs)
	e.scale = 0
}

// put stores an encoded vector in slot i; fresh says the slot is empty
// (its sign bits clear), so only the set bits need writing.
func (c *coll) put(i int, e *encoded, fresh bool) {
	ch, j := c.chunks[i/chunkLen], i%chunkLen
	copy(ch.code[j*c.codeLen:(j+1)*c.codeLen], e.code)
	ch.scale[j] = e.scale
	w, bit := j/64, uint64(1)<<(j%64)
	if !fresh {
		for t := range c.dim {
			ch.cols[t*chunkWords+w] &^= bit
		}
	}
	for g, sw := range e.signs {
		for sw != 0 {
			t := 64*g + bits.TrailingZeros64(sw)
			sw &= sw - 1
			ch.cols[t*chunkWords+w] |= bit
		}
	}
}

// move copies slot from (vector and ID) into slot to.
func (c *coll) move(to, from int) {
	tc, tj := c.chunks[to/chunkLen], to%chunkLen
	fc, fj := c.chunks[from/chunkLen], from%chunkLen
	copy(tc.code[tj*c.codeLen:(tj+1)*c.codeLen], fc.code[fj*c.codeLen:(fj+1)*c.codeLen])
	tc.scale[tj] = fc.scale[fj]
	tc.keys[tj] = fc.keys[fj]
	if c.names != nil {
		c.names[to] = c.names[from]
	}
	tw, tl := tj/64, uint(tj%64)
	fw, fl := fj/64, uint(fj%64)
	for t := range c.dim {
		bit := fc.cols[t*chunkWords+fw] >> fl & 1
		p := &tc.cols[t*chunkWords+tw]
		*p = *p&^(1<<tl) | bit<<tl
	}
}

// wipe overwrites slot i.
func (c *coll) wipe(i int) {
	ch, j := c.chunks[i/chunkLen], i%chunkLen
	clear(ch.code[j*c.codeLen : (j+1)*c.codeLen])
	ch.scale[j] = 0
	ch.keys[j] = uuidKey{}
	if c.names != nil {
		c.names[i] = ""
	}
	w, lane := j/64, uint(j%64)
	for t := range c.dim {
		ch.cols[t*chunkWords+w] &^= 1 << lane
	}
}

// wipeAll overwrites every chunk.
func (c *coll) wipeAll() {
	for _, ch := range c.chunks {
		clear(ch.cols)
		clear(ch.code)
		clear(ch.scale)
		clear(ch.keys)
	}
	c.chunks = nil
	clear(c.names)
	c.names = nil
	clear(c.table)
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
	i, pos := c.find(keyOf(id))
	if i < 0 {
		return false
	}
	c.unlink(pos)
	last := c.n - 1
	if i != last {
		c.table[c.posOf(last)] = int32(i + 1)
		c.move(i, last)
	}
	c.wipe(last)
	c.n = last
	if c.names != nil {
		c.names = c.names[:last]
	}
	if c.n == 0 {
		c.wipeAll()
		delete(ix.cols, collection)
		return true
	}
	if full := (c.n + chunkLen - 1) / chunkLen; len(c.chunks) > full {
		c.chunks[full] = nil // every slot of it has been wiped
		c.chunks = c.chunks[:full]
	}
	if len(c.table) >= shrinkFrom && c.n*10 < len(c.table) {
		// Give memory back after many removals.
		c.rehash(c.n)
		if c.names != nil {
			c.names = slices.Clip(slices.Clone(c.names))
		}
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
	c := ix.cols[collection]
	if c == nil {
		return nil
	}
	ids := make([]string, c.n)
	for i := range ids {
		ids[i] = c.idAt(i)
	}
	return ids
}

// Search returns up to k vectors of the collection most similar to q, best
// first, with their cosine similarity (within a few thousandths of the
// exact value). q need not be normalised. It returns nil when k < 1, the
// collection is empty, or q is unusable or of another dimension. Equal
// similarities are ordered by ID.
func (ix *Index) Search(collection string, q []float32, k int) []likeness.Match {
	if k < 1 {
		return nil
	}
	norm, _, err := measure(q)
	if err != nil {
		return nil
	}
	sc := ix.pool.Get().(*scratch)
	defer ix.pool.Put(sc)
	groups := (len(q) + 3) / 4
	probe := slices.Grow(sc.probe[:0], 4*groups)[:4*groups]
	sc.probe = probe
	inv := 1 / norm
	for t, x := range q {
		probe[t] = float32(float64(x) * inv)
	}
	clear(probe[len(q):])
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	c := ix.cols[collection]
	if c == nil || c.dim != len(q) {
		return nil
	}
	k = min(k, c.n)
	keep := max(ix.cands, c.n/candsPer, 64*k)
	var slots []uint64 // low 32 bits: the slot
	if c.n <= keep || c.dim < minCodeDim {
		slots = sc.all[:0]
		for i := range c.n {
			slots = append(slots, uint64(i))
		}
		sc.all = slots
	} else {
		slots = c.scan(ix, sc, probe[:c.dim], keep)
	}
	// Scores as keys that order best first: the similarity's bits, made
	// to sort like it and inverted, above the slot.
	keys := slices.Grow(sc.keys[:0], len(slots))[:len(slots)]
	sc.keys = keys
	score := func(from, to int) {
		for j := from; j < to; j++ {
			i := int(uint32(slots[j]))
			keys[j] = uint64(^ordered(c.score(probe, i)))<<32 | uint64(i)
		}
	}
	if workers := min(ix.workers(), len(slots)/rerankPer); workers > 1 {
		var wg sync.WaitGroup
		per := (len(slots) + workers - 1) / workers
		for w := range workers {
			wg.Go(func() { score(w*per, min(len(slots), (w+1)*per)) })
		}
		wg.Wait()
	} else {
		score(0, len(slots))
	}
	// The best k, and any tied with the k-th, ordered by ID among equals.
	selectSmallest(keys, k)
	kth := slices.Max(keys[:k]) >> 32
	hits := sc.hits[:0]
	for j, key := range keys {
		if j < k || key>>32 == kth {
			hits = append(hits, hit{s: unordered(^uint32(key >> 32)), i: int32(uint32(key))})
		}
	}
	sc.hits = hits
	slices.SortFunc(hits, func(a, b hit) int {
		if d := cmp.Compare(b.s, a.s); d != 0 {
			return d
		}
		return strings.Compare(c.idAt(int(a.i)), c.idAt(int(b.i)))
	})
	out := make([]likeness.Match, k)
	for j := range out {
		out[j] = likeness.Match{FacialID: c.idAt(int(hits[j].i)), Similarity: min(1, max(-1, hits[j].s))}
	}
	return out
}
