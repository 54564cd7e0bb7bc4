package vecindex

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/likeness/likeness"
)

func TestTranspose64(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 4))
	for range 20 {
		var a [64]uint64
		for i := range a {
			a[i] = r.Uint64()
		}
		orig := a
		transpose64(&a)
		for i := range 64 {
			for j := range 64 {
				if a[j]>>i&1 != orig[i]>>j&1 {
					t.Fatalf("bit %d of row %d: %d, want bit %d of row %d: %d", i, j, a[j]>>i&1, j, i, orig[i]>>j&1)
				}
			}
		}
		if transpose64(&a); a != orig {
			t.Fatal("transposing twice is not the identity")
		}
	}
}

// sameColl reports how two collections differ in what they store: the
// vectors' bits, codes and scales, the IDs and their order, and every byte
// of the chunks beyond the last vector.
func sameColl(a, b *coll) error {
	switch {
	case a == nil || b == nil:
		if a != b {
			return fmt.Errorf("one collection is missing")
		}
		return nil
	case a.n != b.n || a.dim != b.dim:
		return fmt.Errorf("n, dim = %d, %d and %d, %d", a.n, a.dim, b.n, b.dim)
	case len(a.chunks) != len(b.chunks):
		return fmt.Errorf("%d and %d chunks", len(a.chunks), len(b.chunks))
	case !slices.Equal(a.names, b.names):
		return fmt.Errorf("names differ")
	}
	for ci := range a.chunks {
		x, y := a.chunks[ci], b.chunks[ci]
		switch {
		case !slices.Equal(x.cols, y.cols):
			return fmt.Errorf("chunk %d: sign columns differ", ci)
		case !slices.Equal(x.code, y.code):
			return fmt.Errorf("chunk %d: components differ", ci)
		case !slices.Equal(x.scale, y.scale):
			return fmt.Errorf("chunk %d: scales differ", ci)
		case !slices.Equal(x.keys, y.keys):
			return fmt.Errorf("chunk %d: IDs differ", ci)
		}
	}
	for i := range a.n {
		if s, _ := b.find(a.keyAt(i)); s != i {
			return fmt.Errorf("slot %d (%s) is found at %d", i, a.idAt(i), s)
		}
	}
	return nil
}

// copyColl returns a deep copy of what a collection stores.
func copyColl(c *coll) *coll {
	if c == nil {
		return nil
	}
	d := *c
	d.names = slices.Clone(c.names)
	d.table = slices.Clone(c.table)
	d.chunks = nil
	for _, ch := range c.chunks {
		d.chunks = append(d.chunks, &chunk{cols: slices.Clone(ch.cols), code: slices.Clone(ch.code),
			scale: slices.Clone(ch.scale), keys: slices.Clone(ch.keys)})
	}
	return &d
}

// TestAddBatchMatchesAdd adds the same rows with Add, one by one in order,
// and with AddBatch, and requires the two indexes to hold the same bytes,
// IDs and search results: into an empty collection and a non-empty one,
// with replacements of stored IDs, IDs repeated within a batch, batches
// crossing chunk boundaries and partly filled words, UUIDs and other IDs,
// and removals between batches.
func TestAddBatchMatchesAdd(t *testing.T) {
	n := 3*chunkLen + 500
	if raceEnabled {
		n = chunkLen + 3000
	}
	for _, dim := range []int{130, 512} {
		t.Run(fmt.Sprint("dim", dim), func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(dim)))
			one, bulk := New(), New()
			one.procs, bulk.procs = 2, 3 // several goroutines even on one core
			var pool []string            // IDs stored or removed so far
			newID := func(i int) string {
				if i%5 == 0 {
					return "face-" + strconv.Itoa(i)
				}
				return benchUUID(r)
			}
			step := func(t *testing.T, rows int, replace, repeat float64) {
				ids := make([]string, rows)
				vecs := make([]float32, 0, rows*dim)
				for i := range ids {
					switch x := r.Float64(); {
					case x < replace && len(pool) > 0:
						ids[i] = pool[r.IntN(len(pool))]
					case x < replace+repeat && i > 0:
						ids[i] = ids[r.IntN(i)]
					default:
						ids[i] = newID(len(pool))
						pool = append(pool, ids[i])
					}
					vecs = append(vecs, randVec(r, dim)...)
				}
				for i, id := range ids {
					if err := one.Add("c", id, vecs[i*dim:(i+1)*dim]); err != nil {
						t.Fatal(err)
					}
				}
				if err := bulk.AddBatch("c", ids, vecs); err != nil {
					t.Fatal(err)
				}
				compare(t, one, bulk, r, dim)
			}
			remove := func(t *testing.T, count int) {
				for range count {
					id := pool[r.IntN(len(pool))]
					if a, b := one.Remove("c", id), bulk.Remove("c", id); a != b {
						t.Fatalf("Remove(%q): %v and %v", id, a, b)
					}
				}
				compare(t, one, bulk, r, dim)
			}
			t.Run("empty collection", func(t *testing.T) { step(t, 1000, 0, 0.02) })
			t.Run("odd sizes", func(t *testing.T) {
				for _, rows := range []int{1, 63, 64, 65, 129} {
					step(t, rows, 0.1, 0.1)
				}
			})
			t.Run("across chunks", func(t *testing.T) { step(t, n-len(pool), 0.01, 0.01) })
			t.Run("replacing", func(t *testing.T) { step(t, 3000, 0.5, 0.2) })
			t.Run("after removals", func(t *testing.T) {
				remove(t, 2000)
				step(t, 777, 0.2, 0.05)
				remove(t, 500)
			})
		})
	}
}

// compare requires one and bulk to store the same collection "c" and
// answer searches alike.
func compare(t *testing.T, one, bulk *Index, r *rand.Rand, dim int) {
	t.Helper()
	if err := sameColl(one.cols["c"], bulk.cols["c"]); err != nil {
		t.Fatal(err)
	}
	if a, b := one.Len("c"), bulk.Len("c"); a != b {
		t.Fatalf("Len %d and %d", a, b)
	}
	if !slices.Equal(one.IDs("c"), bulk.IDs("c")) {
		t.Fatal("IDs differ")
	}
	if !allZero(bulk.cols["c"]) {
		t.Fatal("a slot past the last vector is not empty")
	}
	ids := bulk.IDs("c")
	for range 10 {
		// A probe near a stored vector: its own ID must come first.
		c := bulk.cols["c"]
		i := r.IntN(len(ids))
		q := make([]float32, dim)
		ch, j := c.chunks[i/chunkLen], i%chunkLen
		for d := range q {
			w := int32(ch.code[j*c.codeLen+d/4*3]) | int32(ch.code[j*c.codeLen+d/4*3+1])<<8 | int32(ch.code[j*c.codeLen+d/4*3+2])<<16
			q[d] = float32(w>>(6*(d%4))&63-32) + 0.3*float32(r.NormFloat64())
		}
		a, b := one.Search("c", q, 5), bulk.Search("c", q, 5)
		if !slices.Equal(a, b) {
			t.Fatalf("searches differ: %v and %v", a, b)
		}
		if len(b) == 0 || b[0].FacialID != ids[i] {
			t.Fatalf("search near %s: %v", ids[i], b)
		}
	}
}

// TestAddBatchRefusesBadRows checks that every row Add would refuse makes
// AddBatch fail, naming the row, with the index unchanged.
func TestAddBatchRefusesBadRows(t *testing.T) {
	const dim, rows = 8, 600 // enough rows for several encoding goroutines
	r := rand.New(rand.NewPCG(8, 8))
	good := func() ([]string, []float32) {
		ids := make([]string, rows)
		var vecs []float32
		for i := range ids {
			ids[i] = benchUUID(r)
			vecs = append(vecs, randVec(r, dim)...)
		}
		return ids, vecs
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	tests := []struct {
		name string
		bad  func(ids []string, vecs []float32) ([]string, []float32)
		want string // a regular expression
	}{
		{"empty ID", func(ids []string, vecs []float32) ([]string, []float32) { ids[417] = ""; return ids, vecs }, "row 417: empty ID"},
		{"NaN component", func(ids []string, vecs []float32) ([]string, []float32) {
			vecs[500*dim+3] = nan
			return ids, vecs
		}, "row 500"},
		{"infinite component", func(ids []string, vecs []float32) ([]string, []float32) {
			vecs[2*dim] = inf
			return ids, vecs
		}, "row 2"},
		{"zero vector", func(ids []string, vecs []float32) ([]string, []float32) {
			clear(vecs[599*dim:])
			return ids, vecs
		}, "row 599"},
		{"first of two bad rows", func(ids []string, vecs []float32) ([]string, []float32) {
			clear(vecs[550*dim : 551*dim])
			ids[310] = ""
			return ids, vecs
		}, "row 310"},
		{"dimension of another collection", func(ids []string, vecs []float32) ([]string, []float32) {
			return ids[:rows/2], vecs // 16 components per ID
		}, `^vecindex: row 0 \(ID "[0-9a-f-]{36}"\): vector has dimension 16, collection has 8$`},
		{"not one vector per ID", func(ids []string, vecs []float32) ([]string, []float32) { return ids, vecs[:len(vecs)-1] }, "not one vector"},
		{"no vectors", func(ids []string, vecs []float32) ([]string, []float32) { return ids, nil }, "not one vector"},
		{"vectors without IDs", func(ids []string, vecs []float32) ([]string, []float32) { return nil, vecs }, "for no ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := New()
			ids, vecs := good()
			if err := ix.AddBatch("c", ids[:100], vecs[:100*dim]); err != nil {
				t.Fatal(err)
			}
			before := copyColl(ix.cols["c"])
			ids, vecs = good()
			ids[0] = before.idAt(5) // a replacement that must not happen
			ids, vecs = tt.bad(ids, vecs)
			err := ix.AddBatch("c", ids, vecs)
			if err == nil || !regexp.MustCompile(tt.want).MatchString(err.Error()) {
				t.Fatalf("AddBatch: %v, want an error with %q", err, tt.want)
			}
			if err := sameColl(before, ix.cols["c"]); err != nil {
				t.Fatalf("the refused batch changed the collection: %v", err)
			}
			if !slices.Equal(before.table, ix.cols["c"].table) {
				t.Fatal("the refused batch changed the ID table")
			}
			// Into a collection not made yet: it is not made.
			if tt.name != "dimension of another collection" {
				if err := ix.AddBatch("new", ids, vecs); err == nil || ix.Len("new") != 0 || slices.Contains(ix.Collections(), "new") {
					t.Fatalf("AddBatch into a new collection: %v, Len %d", err, ix.Len("new"))
				}
			}
		})
	}
	// Through Vectors: EINVALID, without the row's details in the message.
	err := NewVectors().AddBatch(t.Context(), "c", []string{"a", ""}, make([]float32, 4))
	var le *likeness.Error
	if !errors.As(err, &le) || le.Code != likeness.EINVALID || strings.Contains(le.Message, "row") {
		t.Fatalf("Vectors.AddBatch: %#v", err)
	}
	if err := New().AddBatch("c", nil, nil); err != nil {
		t.Fatalf("an empty batch: %v", err)
	}
}

// TestAddBatchConcurrent runs batches, single adds, removals and searches
// at once (for the race detector) and checks the count.
func TestAddBatchConcurrent(t *testing.T) {
	const dim = 160
	ix := New()
	ix.procs = 2
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 11))
			for b := range 6 {
				ids := make([]string, 700)
				var vecs []float32
				for i := range ids {
					ids[i] = fmt.Sprintf("%d-%d-%d", w, b, i)
					vecs = append(vecs, randVec(r, dim)...)
				}
				if err := ix.AddBatch("c", ids, vecs); err != nil {
					t.Error(err)
					return
				}
				for i := range 100 {
					ix.Remove("c", ids[3*i])
				}
				if err := ix.Add("c", fmt.Sprintf("%d-%d-single", w, b), randVec(r, dim)); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 12))
			for range 100 {
				m := ix.Search("c", randVec(r, dim), 3)
				for i := 1; i < len(m); i++ {
					if m[i].Similarity > m[i-1].Similarity {
						t.Error("unordered results")
					}
				}
			}
		})
	}
	wg.Wait()
	if got, want := ix.Len("c"), 3*6*(700-100+1); got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	if !allZero(ix.cols["c"]) {
		t.Fatal("a slot past the last vector is not empty")
	}
}

// cpuTime returns the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBuild times building a collection of 100,000 512-dimensional
// vectors with Add from GOMAXPROCS goroutines and with AddBatch (4,096 at a
// time, as the store loads them), in wall time and in CPU time (cpu-ms/op):
// on a shared machine the CPU time tells the work from the wait.
func BenchmarkBuild(b *testing.B) {
	const n, dim, per = 100000, 512, 4096
	r := rand.New(rand.NewPCG(1, 1))
	ids := make([]string, n)
	vecs := make([]float32, 0, n*dim)
	for i := range ids {
		ids[i] = benchUUID(r)
		vecs = append(vecs, randVec(r, dim)...)
	}
	b.Run("Add", func(b *testing.B) {
		cpu := cpuTime()
		defer func() { b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op") }()
		for b.Loop() {
			ix := New()
			ix.Reserve("c", n)
			var wg sync.WaitGroup
			workers := ix.workers()
			for w := range workers {
				wg.Go(func() {
					for i := w; i < n; i += workers {
						_ = ix.Add("c", ids[i], vecs[i*dim:(i+1)*dim])
					}
				})
			}
			wg.Wait()
		}
	})
	b.Run("AddBatch", func(b *testing.B) {
		cpu := cpuTime()
		defer func() { b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N), "cpu-ms/op") }()
		for b.Loop() {
			ix := New()
			ix.Reserve("c", n)
			for i := 0; i < n; i += per {
				j := min(n, i+per)
				_ = ix.AddBatch("c", ids[i:j], vecs[i*dim:j*dim])
			}
		}
	})
}
