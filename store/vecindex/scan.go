package vecindex

import (
	"math"
	"math/bits"
	"slices"
	"sync"
)

type hit struct {
	s float32
	i int32
}

// ordered maps a float32 to a uint32 of the same order.
func ordered(f float32) uint32 {
	b := math.Float32bits(f)
	if b>>31 == 1 {
		return ^b
	}
	return b | 1<<31
}

// unordered is the inverse of ordered.
func unordered(u uint32) float32 {
	if u>>31 == 1 {
		return math.Float32frombits(u &^ (1 << 31))
	}
	return math.Float32frombits(^u)
}

// score returns the cosine of the unit probe (padded with zeros to a
// multiple of 4 components) with the vector in slot i.
func (c *coll) score(probe []float32, i int) float32 {
	ch, j := c.chunks[i/chunkLen], i%chunkLen
	return dot6(probe, ch.code[j*c.codeLen:(j+1)*c.codeLen]) * ch.scale[j]
}

// dot6 returns Σ p[t]·component t over the 6-bit components in code (four
// in three bytes, each stored plus 32); len(p) is a multiple of 4.
func dot6(p []float32, code []byte) float32 {
	code = code[:len(p)/4*3]
	var s0, s1, s2, s3 float32
	for g := 0; g+3 <= len(code); g += 3 {
		b := code[g : g+3 : g+3]
		w := int32(b[0]) | int32(b[1])<<8 | int32(b[2])<<16
		x := p[g/3*4 : g/3*4+4 : g/3*4+4]
		s0 += x[0] * float32(w&63-32)
		s1 += x[1] * float32(w>>6&63-32)
		s2 += x[2] * float32(w>>12&63-32)
		s3 += x[3] * float32(w>>18-32)
	}
	return (s0 + s1) + (s2 + s3)
}

// scan returns the keep slots (or a few more) whose signs disagree least
// with the probe's on the scanBits components where the probe is largest,
// as keys disagreements<<32 | slot, in no order.
func (c *coll) scan(ix *Index, sc *scratch, probe []float32, keep int) []uint64 {
	// The components where the probe is largest in absolute value.
	order := slices.Grow(sc.order[:0], len(probe))[:len(probe)]
	sc.order = order
	for t := range order {
		order[t] = t
	}
	selectLargest(order, probe, scanBits)
	for j, t := range order[:scanBits] {
		sc.sel[j] = t
		// A set bit of col ^ mask is a disagreement.
		sc.masks[j] = uint64(int64(math.Float32bits(probe[t])>>31) - 1)
	}
	workers := 1
	if c.n >= parallelFrom {
		workers = min(ix.workers(), len(c.chunks))
	}
	for len(sc.bufs) < workers {
		sc.bufs = append(sc.bufs, nil)
		sc.planes = append(sc.planes, make([]uint64, 8*chunkWords))
	}
	if workers == 1 {
		sc.bufs[0] = c.scanChunks(sc, ix.simd, sc.planes[0], 0, len(c.chunks), keep, sc.bufs[0][:0])
		return sc.bufs[0]
	}
	var wg sync.WaitGroup
	per := (len(c.chunks) + workers - 1) / workers
	for w := range workers {
		wg.Go(func() {
			from, to := w*per, min(len(c.chunks), (w+1)*per)
			sc.bufs[w] = c.scanChunks(sc, ix.simd, sc.planes[w], from, to, keep, sc.bufs[w][:0])
		})
	}
	wg.Wait()
	all := sc.bufs[0]
	for _, b := range sc.bufs[1:workers] {
		all = append(all, b...)
	}
	sc.bufs[0] = all
	if len(all) > keep {
		all, _ = shrink(all, keep)
	}
	return all
}

// selectLargest reorders idx so that its k entries with the largest |p|
// come first.
func selectLargest(idx []int, p []float32, k int) {
	abs := func(t int) uint32 { return math.Float32bits(p[t]) &^ (1 << 31) }
	lo, hi := 0, len(idx)-1
	for lo < hi {
		piv := abs(idx[lo+(hi-lo)/2])
		i, j := lo, hi
		for i <= j {
			for abs(idx[i]) > piv {
				i++
			}
			for abs(idx[j]) < piv {
				j--
			}
			if i <= j {
				idx[i], idx[j] = idx[j], idx[i]
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

// csa is a carry-save adder over 64 lanes: a+b+c = 2·hi + lo.
func csa(a, b, c uint64) (hi, lo uint64) {
	u := a ^ b
	return a&b | u&c, u ^ c
}

// planesGo counts, for each of words 64-vector words of the columns, the
// set bits of col ^ mask per lane (the disagreements with the probe's
// signs), summed by a Harley–Seal tree of carry-save adders. The counts are
// stored as 7 bit planes, then the lanes whose count is below bound (at
// most 127): out[64g+8b+k] is plane b of word 8g+k, b = 7 the lanes below.
func planesGo(cols *[scanBits][]uint64, m *[scanBits]uint64, bound uint64, words int, out []uint64) {
	for w := range words {
		var ones, twos, fours, eights uint64
		var sixteens [4]uint64
		for q := range 4 {
			o := 16 * q
			var twosA, twosB, foursA, foursB, eightsA, eightsB uint64
			twosA, ones = csa(ones, cols[o][w]^m[o], cols[o+1][w]^m[o+1])
			twosB, ones = csa(ones, cols[o+2][w]^m[o+2], cols[o+3][w]^m[o+3])
			foursA, twos = csa(twos, twosA, twosB)
			twosA, ones = csa(ones, cols[o+4][w]^m[o+4], cols[o+5][w]^m[o+5])
			twosB, ones = csa(ones, cols[o+6][w]^m[o+6], cols[o+7][w]^m[o+7])
			foursB, twos = csa(twos, twosA, twosB)
			eightsA, fours = csa(fours, foursA, foursB)
			twosA, ones = csa(ones, cols[o+8][w]^m[o+8], cols[o+9][w]^m[o+9])
			twosB, ones = csa(ones, cols[o+10][w]^m[o+10], cols[o+11][w]^m[o+11])
			foursA, twos = csa(twos, twosA, twosB)
			twosA, ones = csa(ones, cols[o+12][w]^m[o+12], cols[o+13][w]^m[o+13])
			twosB, ones = csa(ones, cols[o+14][w]^m[o+14], cols[o+15][w]^m[o+15])
			foursB, twos = csa(twos, twosA, twosB)
			eightsB, fours = csa(fours, foursA, foursB)
			sixteens[q], eights = csa(eights, eightsA, eightsB)
		}
		h1, l1 := csa(sixteens[0], sixteens[1], sixteens[2])
		c4 := l1 & sixteens[3]
		planes := [7]uint64{ones, twos, fours, eights, l1 ^ sixteens[3], h1 ^ c4, h1 & c4}
		// Bit-sliced comparison with the bound, from the top bit.
		lt, eq := uint64(0), ^uint64(0)
		for b := 6; b >= 0; b-- {
			if bound>>b&1 == 1 {
				lt |= eq &^ planes[b]
				eq &= planes[b]
			} else {
				eq &^= planes[b]
			}
		}
		p := out[64*(w/8)+w%8:]
		for b, x := range planes {
			p[8*b] = x
		}
		p[56] = lt
	}
}

// scanChunks scans chunks [from, to) into buf. Keys below the current bound
// collect in buf; when it holds twice keep, the keep smallest stay and the
// largest of them becomes the bound.
func (c *coll) scanChunks(sc *scratch, simd bool, planes []uint64, from, to, keep int, buf []uint64) []uint64 {
	// A stranger disagrees on half the signs, so about one vector in eight
	// disagrees on fewer than firstBound of 64: the buffer fills within
	// the first chunk without every lane of it being looked at. Should
	// fewer than keep pass (vectors far from uniform), the scan starts over
	// with no bound.
	buf = c.scanFrom(sc, simd, planes, from, to, keep, firstBound<<32, buf[:0])
	if len(buf) < keep && min(to*chunkLen, c.n)-from*chunkLen > len(buf) {
		buf = c.scanFrom(sc, simd, planes, from, to, keep, math.MaxUint64, buf[:0])
	}
	return buf
}

// scanFrom is scanChunks from a given bound.
func (c *coll) scanFrom(sc *scratch, simd bool, planes []uint64, from, to, keep int, bound uint64, buf []uint64) []uint64 {
	limit := 2 * keep
	var cols [scanBits][]uint64
	for ci := from; ci < to; ci++ {
		ch := c.chunks[ci]
		for j, t := range sc.sel {
			cols[j] = ch.cols[t*chunkWords : (t+1)*chunkWords : (t+1)*chunkWords]
		}
		base := ci * chunkLen
		words := min(chunkWords, (c.n-base+63)/64)
		// Lanes below the bound as it is now; it only falls within the
		// chunk, so each survivor is checked again below.
		bc := min(bound>>32, 127)
		if !simd || !planesSIMD(&cols, &sc.masks, bc, (words+7)&^7, planes) {
			planesGo(&cols, &sc.masks, bc, words, planes)
		}
		for w := range words {
			p := planes[64*(w/8)+w%8:]
			lt := p[56]
			// Lanes past the last vector do not count.
			if n := c.n - base - 64*w; n < 64 {
				lt &= 1<<n - 1
			}
			for lt != 0 {
				lane := bits.TrailingZeros64(lt)
				lt &= lt - 1
				var d uint64
				for b := range 7 {
					d |= (p[8*b] >> lane & 1) << b
				}
				// A key with the bound's count is above the bound: slots
				// only grow.
				if d >= bound>>32 {
					continue
				}
				buf = append(buf, d<<32|uint64(base+64*w+lane))
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
