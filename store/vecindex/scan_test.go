package vecindex

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

func BenchmarkScan(b *testing.B) {
	const n = 1 << 20
	ix := New()
	r := rand.New(rand.NewPCG(1, 1))
	v := make([]float32, 512)
	for i := range n / 16 {
		for t := range v {
			v[t] = float32(r.NormFloat64())
		}
		_ = ix.Add("c", strconv.Itoa(i), v)
	}
	c := ix.cols["c"]
	// The rest of the chunks: random sign bits, set directly.
	for len(c.chunks) < n/chunkLen {
		ch := &chunk{cols: make([]uint64, c.dim*chunkWords), code: make([]byte, chunkLen*c.codeLen), scale: make([]float32, chunkLen), keys: make([]uuidKey, chunkLen)}
		for i := range ch.cols {
			ch.cols[i] = r.Uint64()
		}
		c.chunks = append(c.chunks, ch)
	}
	c.n = n
	sc := new(scratch)
	probe := make([]float32, 512)
	for t := range probe {
		probe[t] = float32(r.NormFloat64())
	}
	ix.procs = 1
	b.ResetTimer()
	for b.Loop() {
		c.scan(ix, sc, probe, 1024)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/vec")
}

func TestPlanesMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	var cols [scanBits][]uint64
	var masks [scanBits]uint64
	for j := range cols {
		cols[j] = make([]uint64, 64)
		for w := range cols[j] {
			cols[j][w] = r.Uint64()
		}
		masks[j] = uint64(r.IntN(2)) * ^uint64(0)
	}
	a := make([]uint64, 8*64)
	b := make([]uint64, 8*64)
	planesGo(&cols, &masks, 30, 64, a)
	if !planesSIMD(&cols, &masks, 30, 64, b) {
		t.Skip("no AVX-512")
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("word %d differs", i)
		}
	}
	// And the planes are the counts.
	for w := range 64 {
		for lane := range 64 {
			want := 0
			for j := range cols {
				want += int((cols[j][w] ^ masks[j]) >> lane & 1)
			}
			got := 0
			for bb := range 7 {
				got |= int(a[64*(w/8)+8*bb+w%8]>>lane&1) << bb
			}
			if got != want {
				t.Fatalf("w %d lane %d: %d, want %d", w, lane, got, want)
			}
			if below := a[64*(w/8)+56+w%8]>>lane&1 == 1; below != (want < 30) {
				t.Fatalf("w %d lane %d: count %d, below 30 = %v", w, lane, want, below)
			}
		}
	}
}

func BenchmarkAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	vs := make([][]float32, 4096)
	for i := range vs {
		vs[i] = make([]float32, 512)
		for t := range vs[i] {
			vs[i][t] = float32(r.NormFloat64())
		}
	}
	ids := make([]string, 1<<20)
	for i := range ids {
		ids[i] = benchUUID(r)
	}
	ix := New()
	ix.Reserve("c", len(ids))
	i := 0
	b.ResetTimer()
	for b.Loop() {
		_ = ix.Add("c", ids[i%len(ids)], vs[i%len(vs)])
		i++
	}
}

func benchUUID(r *rand.Rand) string {
	k := uuidKey{}
	for j := range k {
		k[j] = byte(r.Uint32())
	}
	return k.String()
}
