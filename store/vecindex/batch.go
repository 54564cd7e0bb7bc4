package vecindex

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Bulk loading. Add writes one vector's sign bits one column at a time:
// one read-modify-write of a scattered word per set bit, ~256 for a
// 512-dimensional vector, under the lock. AddBatch encodes its rows in
// parallel before taking the lock, and writes the signs of up to 64 new
// slots sharing a word of every column at once: the 64 × 64 bit matrix of
// their signs on 64 components is transposed (six rounds of block swaps),
// and each column's word is written once.

const (
	encodePer = 256  // rows per goroutine encoding a batch, at least
	writePer  = 2048 // new slots per goroutine writing a batch, at least
)

// batch is the rows of one AddBatch in stored form, made before taking the
// lock.
type batch struct {
	code  []byte    // per row: codeLen bytes of 6-bit components
	signs []uint64  // per row: words sign words
	scale []float32 // per row
	keys  []slotKey // per row
	fresh []int32   // per slot appended by the batch, in order: the row it holds
}

// wipe overwrites the batch.
func (b *batch) wipe() {
	clear(b.code)
	clear(b.signs)
	clear(b.scale)
	clear(b.keys)
	clear(b.fresh)
}

// AddBatch stores len(ids) vectors in the collection, as calling Add for
// each row in order would: vecs holds the vectors one after another (one
// dimension, len(vecs)/len(ids)); an ID already stored is replaced, and of
// an ID given more than once the last row stays. The rows are encoded in
// parallel before the lock is taken, once. A row that Add would refuse (an
// empty ID, a vector Normalize refuses, a dimension other than the
// collection's) makes AddBatch fail with an error naming the row, and then
// nothing is stored.
func (ix *Index) AddBatch(collection string, ids []string, vecs []float32) error {
	rows := len(ids)
	if rows == 0 {
		if len(vecs) > 0 {
			return fmt.Errorf("vecindex: %d components for no ID", len(vecs))
		}
		return nil
	}
	if len(vecs) == 0 || len(vecs)%rows != 0 {
		return fmt.Errorf("vecindex: %d components for %d IDs: not one vector of one dimension per ID", len(vecs), rows)
	}
	dim := len(vecs) / rows
	codeLen, words := (dim+3)/4*3, (dim+63)/64
	b := ix.bulk.Get().(*batch)
	defer ix.bulk.Put(b)
	b.code = slices.Grow(b.code[:0], rows*codeLen)[:rows*codeLen]
	b.signs = slices.Grow(b.signs[:0], rows*words)[:rows*words]
	b.scale = slices.Grow(b.scale[:0], rows)[:rows]
	b.keys = slices.Grow(b.keys[:0], rows)[:rows]
	defer b.wipe()

	workers := max(1, min(ix.workers(), rows/encodePer))
	errs := make([]error, workers)
	encode := func(w, from, to int) {
		for r := from; r < to; r++ {
			if ids[r] == "" {
				errs[w] = fmt.Errorf("vecindex: row %d: empty ID", r)
				return
			}
			v := vecs[r*dim : (r+1)*dim]
			maxAbs, err := largest(v)
			if err != nil {
				errs[w] = rowError(r, ids[r], err)
				return
			}
			b.scale[r] = encodeInto(b.code[r*codeLen:(r+1)*codeLen], b.signs[r*words:(r+1)*words], v, maxAbs)
			b.keys[r] = keyOf(ids[r])
		}
	}
	if workers == 1 {
		encode(0, 0, rows)
	} else {
		var wg sync.WaitGroup
		per := (rows + workers - 1) / workers
		for w := range workers {
			wg.Go(func() { encode(w, w*per, min(rows, (w+1)*per)) })
		}
		wg.Wait()
	}
	// The first bad row: each goroutine stops at the first of its rows.
	for _, err := range errs {
		if err != nil {
			return err
		}
	}

	ix.mu.Lock()
	defer ix.mu.Unlock()
	c, err := ix.collFor(collection, dim)
	if err != nil {
		return rowError(0, ids[0], err) // every row has the dimension
	}
	c.addBatch(b, ix.workers())
	return nil
}

// rowError names the row (and its ID) in err.
func rowError(r int, id string, err error) error {
	return fmt.Errorf("vecindex: row %d (ID %q): %s", r, id, strings.TrimPrefix(err.Error(), "vecindex: "))
}

// row returns row r of the batch as an encoded vector (sharing its memory).
func (b *batch) row(r, codeLen, words int) *encoded {
	return &encoded{code: b.code[r*codeLen : (r+1)*codeLen], signs: b.signs[r*words : (r+1)*words], scale: b.scale[r]}
}

// addBatch stores the encoded rows of b: slots are found or appended in row
// order; a slot stored before is overwritten at once (as Add does), and the
// appended slots, all empty, are written together at the end, each with the
// last row given for it.
func (c *coll) addBatch(b *batch, workers int) {
	words := (c.dim + 63) / 64
	if need := c.n + len(b.keys); need*10 > len(c.table)*7 {
		c.rehash(2 * need)
	}
	first := c.n
	fresh := b.fresh[:0]
	for r, k := range b.keys {
		i, pos := c.find(k)
		switch {
		case i < 0:
			c.addSlot(k, pos)
			fresh = append(fresh, int32(r))
		case i >= first:
			fresh[i-first] = int32(r) // the same ID earlier in the batch
		default:
			c.put(i, b.row(r, c.codeLen, words), false)
		}
	}
	b.fresh = fresh
	// Split the new slots among goroutines at multiples of 64 slots, so
	// that no two write the same word.
	workers = max(1, min(workers, len(fresh)/writePer))
	if workers == 1 {
		c.putFresh(b, first, first, c.n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		from, to := first, c.n
		if w > 0 {
			from = min(c.n, (first+w*len(fresh)/workers+63)&^63)
		}
		if w < workers-1 {
			to = min(c.n, (first+(w+1)*len(fresh)/workers+63)&^63)
		}
		if from < to {
			wg.Go(func() { c.putFresh(b, first, from, to) })
		}
	}
	wg.Wait()
}

// putFresh writes the empty slots [from, to), appended by the batch from
// slot first on, from their rows of b. The sign bits go in 64 slots at a
// time: for each 64 components, the lanes' sign words are transposed into
// one word per column, ORed in with one write (the slots' bits are clear;
// other lanes of the word may hold vectors already).
func (c *coll) putFresh(b *batch, first, from, to int) {
	words := (c.dim + 63) / 64
	var m [64]uint64
	for i := from; i < to; {
		ch, j := c.chunks[i/chunkLen], i%chunkLen
		end := min(to, i-j%64+64) // the slots sharing slot i's word
		for s := i; s < end; s++ {
			r, sj := int(b.fresh[s-first]), s%chunkLen
			copy(ch.code[sj*c.codeLen:(sj+1)*c.codeLen], b.code[r*c.codeLen:(r+1)*c.codeLen])
			ch.scale[sj] = b.scale[r]
		}
		w := j / 64
		for g := range words {
			clear(m[:])
			for s := i; s < end; s++ {
				m[s%64] = b.signs[int(b.fresh[s-first])*words+g]
			}
			transpose64(&m)
			cols := ch.cols[64*g*chunkWords+w:]
			for t := range min(64, c.dim-64*g) {
				cols[t*chunkWords] |= m[t]
			}
		}
		i = end
	}
	clear(m[:])
}

// transpose64 transposes a 64 × 64 bit matrix in place: bit j of a[i]
// becomes bit i of a[j]. Each step swaps the off-diagonal blocks of the
// blocks of size 2s (s = 32, 16, …, 1) along the diagonal.
func transpose64(a *[64]uint64) {
	mask := uint64(0x00000000ffffffff) // the low s bits of every 2s
	for s := 32; s != 0; {
		for k := 0; k < 64; k = (k + s + 1) &^ s {
			t := (a[k]>>s ^ a[k+s]) & mask
			a[k+s] ^= t
			a[k] ^= t << s
		}
		s >>= 1
		mask ^= mask << s
	}
}
