// Package vectest is the contract test suite every likeness.VectorIndex
// passes: the embedded index and the Weaviate backend run the same tests.
package vectest

import (
	"context"
	"crypto/rand"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/vecindex/synth"
)

// Open returns a fresh index for one test; the suite closes it.
type Open func(t *testing.T) likeness.VectorIndex

// Run runs the contract suite.
func Run(t *testing.T, open Open) {
	t.Run("Basics", func(t *testing.T) { testBasics(t, open) })
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, open) })
	t.Run("Refusals", func(t *testing.T) { testRefusals(t, open) })
	t.Run("Recall", func(t *testing.T) { testRecall(t, open) })
	t.Run("ListAndDrop", func(t *testing.T) { testListAndDrop(t, open) })
	t.Run("Compact", func(t *testing.T) { testCompact(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
}

// Collection returns a collection name no other test uses.
func Collection() string {
	return "col_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
}

// Secret returns a random collection secret.
func Secret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func openIndex(t *testing.T, open Open) likeness.VectorIndex {
	t.Helper()
	ix := open(t)
	t.Cleanup(func() {
		if err := ix.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ix
}

func ensure(t *testing.T, ix likeness.VectorIndex) string {
	t.Helper()
	c := Collection()
	if err := ix.Ensure(context.Background(), c, Secret()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return c
}

func ids(m []likeness.Match) []string {
	out := make([]string, len(m))
	for i, x := range m {
		out[i] = x.FacialID
	}
	return out
}

func mustSearch(t *testing.T, ix likeness.VectorIndex, c string, q []float32, k int) []likeness.Match {
	t.Helper()
	m, err := ix.Search(context.Background(), c, q, k)
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	for i := 1; i < len(m); i++ {
		if m[i].Similarity > m[i-1].Similarity {
			t.Fatalf("results not best first: %v", m)
		}
	}
	return m
}

func near(a, b float32) bool { return math.Abs(float64(a)-float64(b)) < 3e-3 }

func testBasics(t *testing.T, open Open) {
	ctx := context.Background()
	ix := openIndex(t, open)
	c := ensure(t, ix)
	if err := ix.Ensure(ctx, c, Secret()); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if m := mustSearch(t, ix, c, []float32{1, 0, 0, 0}, 3); len(m) != 0 {
		t.Fatalf("empty collection answered %v", m)
	}
	if d, err := ix.Dim(ctx, c); err != nil || d != 0 {
		t.Fatalf("Dim of an empty collection = %d, %v", d, err)
	}
	a, b := uuid.NewString(), uuid.NewString()
	if err := ix.Add(ctx, c, a, []float32{3, 4, 0, 0}); err != nil { // 0.6, 0.8
		t.Fatal(err)
	}
	if err := ix.Add(ctx, c, b, []float32{0, -2, 0, 0}); err != nil { // 0, -1
		t.Fatal(err)
	}
	m := mustSearch(t, ix, c, []float32{0.6, 0.8, 0, 0}, 2)
	if !slices.Equal(ids(m), []string{a, b}) || !near(m[0].Similarity, 1) || !near(m[1].Similarity, -0.8) {
		t.Fatalf("search = %v, want %s (1) then %s (-0.8)", m, a, b)
	}
	if m := mustSearch(t, ix, c, []float32{0, -1, 0, 0}, 1); !slices.Equal(ids(m), []string{b}) {
		t.Fatalf("k=1 search = %v, want %s", m, b)
	}
	if n, err := ix.Len(ctx, c); err != nil || n != 2 {
		t.Fatalf("Len = %d, %v; want 2", n, err)
	}
	if d, err := ix.Dim(ctx, c); err != nil || d != 4 {
		t.Fatalf("Dim = %d, %v; want 4", d, err)
	}
	// Replacing keeps one entry.
	if err := ix.Add(ctx, c, a, []float32{0, 0, 1, 0}); err != nil {
		t.Fatal(err)
	}
	if n, _ := ix.Len(ctx, c); n != 2 {
		t.Fatalf("Len after replace = %d", n)
	}
	if m := mustSearch(t, ix, c, []float32{0, 0, 1, 0}, 1); len(m) != 1 || m[0].FacialID != a || !near(m[0].Similarity, 1) {
		t.Fatalf("replaced vector not found: %v", m)
	}
	if err := ix.Remove(ctx, c, a, uuid.NewString()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := ix.Remove(ctx, c, a); err != nil {
		t.Fatalf("Remove of an absent ID: %v", err)
	}
	if m := mustSearch(t, ix, c, []float32{0, 0, 1, 0}, 5); !slices.Equal(ids(m), []string{b}) {
		t.Fatalf("after Remove search = %v, want only %s", m, b)
	}
	if n, _ := ix.Len(ctx, c); n != 1 {
		t.Fatalf("Len after Remove = %d", n)
	}
}

func testIsolation(t *testing.T, open Open) {
	ctx := context.Background()
	ix := openIndex(t, open)
	c1, c2 := ensure(t, ix), ensure(t, ix)
	g := synth.New(11, 64)
	v := g.Identity()
	id := uuid.NewString()
	if err := ix.Add(ctx, c1, id, v); err != nil {
		t.Fatal(err)
	}
	if m := mustSearch(t, ix, c2, v, 5); len(m) != 0 {
		t.Fatalf("another collection found %v", m)
	}
	if m := mustSearch(t, ix, Collection(), v, 5); len(m) != 0 {
		t.Fatalf("an unknown collection found %v", m)
	}
	// A collection of another dimension beside it.
	if err := ix.Add(ctx, c2, uuid.NewString(), g.Identity()[:32]); err != nil {
		t.Fatal(err)
	}
	if err := ix.Remove(ctx, c2, id); err != nil {
		t.Fatal(err)
	}
	if m := mustSearch(t, ix, c1, v, 1); len(m) != 1 || m[0].FacialID != id {
		t.Fatalf("removing from another collection touched this one: %v", m)
	}
	if err := ix.Drop(ctx, c2); err != nil {
		t.Fatal(err)
	}
	if n, _ := ix.Len(ctx, c1); n != 1 {
		t.Fatalf("dropping another collection touched this one: Len %d", n)
	}
}

func testRefusals(t *testing.T, open Open) {
	ctx := context.Background()
	ix := openIndex(t, open)
	c := ensure(t, ix)
	if err := ix.Add(ctx, c, uuid.NewString(), []float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	for _, bad := range [][]float32{nil, {0, 0}, {nan, 1}, {float32(math.Inf(1)), 0}, {1, 2, 3}} {
		if err := ix.Add(ctx, c, uuid.NewString(), bad); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Errorf("Add(%v) = %v, want %s", bad, err, likeness.EINVALID)
		}
		if _, err := ix.Search(ctx, c, bad, 1); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Errorf("Search(%v) = %v, want %s", bad, err, likeness.EINVALID)
		}
	}
	if n, _ := ix.Len(ctx, c); n != 1 {
		t.Fatalf("refused vectors were stored: Len %d", n)
	}
}

// testRecall: a gallery of synthetic identities, probed with new photos of
// some of them, must give exact search's best match and similarity.
func testRecall(t *testing.T, open Open) {
	ctx := context.Background()
	ix := openIndex(t, open)
	c := ensure(t, ix)
	const n, dim, queries = 1500, 512, 100
	g := synth.New(3, dim)
	gallery := make([]float32, 0, n*dim)
	names := make([]string, n)
	for i := range n {
		v := g.Identity()
		gallery = append(gallery, v...)
		names[i] = uuid.NewString()
		if err := ix.Add(ctx, c, names[i], v); err != nil {
			t.Fatal(err)
		}
	}
	probes := make([][]float32, queries)
	for i := range probes {
		j := g.IntN(n)
		probes[i] = g.Probe(gallery[j*dim:(j+1)*dim], g.Genuine())
	}
	best, sims := synth.Exact(gallery, dim, probes, 2)
	hits := 0
	for i, p := range probes {
		m := mustSearch(t, ix, c, p, 3)
		if len(m) != 3 {
			t.Fatalf("k=3 returned %d matches", len(m))
		}
		if m[0].FacialID == names[best[i]] {
			hits++
			if !near(m[0].Similarity, float32(sims[i])) {
				t.Errorf("similarity %v, exact %v", m[0].Similarity, sims[i])
			}
		}
	}
	if recall := float64(hits) / queries; recall < 0.99 {
		t.Fatalf("recall@1 %.3f, want ≥ 0.99", recall)
	}
}

func testListAndDrop(t *testing.T, open Open) {
	ctx := context.Background()
	ix := openIndex(t, open)
	c := ensure(t, ix)
	g := synth.New(5, 16)
	want := map[string]bool{}
	for range 2500 {
		id := uuid.NewString()
		want[id] = true
		if err := ix.Add(ctx, c, id, g.Identity()); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]bool{}
	batches := 0
	if err := ix.IDs(ctx, c, func(ids []string) error {
		batches++
		for _, id := range ids {
			if got[id] {
				t.Errorf("IDs repeated %s", id)
			}
			got[id] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || batches < 2 {
		t.Fatalf("IDs listed %d in %d batches, want %d in several", len(got), batches, len(want))
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("IDs missed %s", id)
		}
	}
	stop := errors.New("stop")
	if err := ix.IDs(ctx, c, func([]string) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("IDs returned %v, want fn's error", err)
	}
	cols, err := ix.Collections(ctx)
	if err != nil || !slices.Contains(cols, c) {
		t.Fatalf("Collections = %v, %v; want it to name %s", cols, err, c)
	}
	if err := ix.Drop(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n, _ := ix.Len(ctx, c); n != 0 {
		t.Fatalf("Len after Drop = %d", n)
	}
	if cols, _ := ix.Collections(ctx); slices.Contains(cols, c) {
		t.Fatalf("Collections still names dropped %s", c)
	}
	// A dropped collection can be made again.
	if err := ix.Ensure(ctx, c, Secret()); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(ctx, c, uuid.NewString(), g.Identity()); err != nil {
		t.Fatal(err)
	}
	if n, _ := ix.Len(ctx, c); n != 1 {
		t.Fatalf("Len after re-creation = %d", n)
	}
}

func testCompact(t *testing.T, open Open) {
	ctx := context.Background()
	ix := openIndex(t, open)
	c := ensure(t, ix)
	g := synth.New(9, 128)
	vecs := map[string][]float32{}
	for range 300 {
		id := uuid.NewString()
		vecs[id] = g.Identity()
		if err := ix.Add(ctx, c, id, vecs[id]); err != nil {
			t.Fatal(err)
		}
	}
	var gone []string
	for id := range vecs {
		if len(gone) == 100 {
			break
		}
		gone = append(gone, id)
	}
	if err := ix.Remove(ctx, c, gone...); err != nil {
		t.Fatal(err)
	}
	if err := ix.Compact(ctx, c); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if n, _ := ix.Len(ctx, c); n != 200 {
		t.Fatalf("Len after Compact = %d, want 200", n)
	}
	for _, id := range gone {
		if m := mustSearch(t, ix, c, vecs[id], 1); len(m) > 0 && m[0].FacialID == id {
			t.Fatalf("removed %s found after Compact", id)
		}
		delete(vecs, id)
	}
	for id, v := range vecs {
		if m := mustSearch(t, ix, c, v, 1); len(m) != 1 || m[0].FacialID != id || !near(m[0].Similarity, 1) {
			t.Fatalf("kept %s not found after Compact: %v", id, m)
		}
	}
	// Writes still work afterwards.
	id := uuid.NewString()
	v := g.Identity()
	if err := ix.Add(ctx, c, id, v); err != nil {
		t.Fatal(err)
	}
	if m := mustSearch(t, ix, c, v, 1); len(m) != 1 || m[0].FacialID != id {
		t.Fatalf("a vector added after Compact is not found: %v", m)
	}
}

func testConcurrent(t *testing.T, open Open) {
	ctx := context.Background()
	ix := openIndex(t, open)
	c := ensure(t, ix)
	var wg sync.WaitGroup
	const workers, each = 3, 40
	for w := range workers {
		wg.Go(func() {
			g := synth.New(uint64(100+w), 32)
			for i := range each {
				id := uuid.NewString()
				if err := ix.Add(ctx, c, id, g.Identity()); err != nil {
					t.Error(err)
					return
				}
				if i%4 == 0 {
					if err := ix.Remove(ctx, c, id); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
		wg.Go(func() {
			g := synth.New(uint64(200+w), 32)
			for range each {
				m, err := ix.Search(ctx, c, g.Identity(), 3)
				if err != nil {
					t.Error(err)
					return
				}
				for i := 1; i < len(m); i++ {
					if m[i].Similarity > m[i-1].Similarity {
						t.Error("unordered results")
					}
				}
			}
		})
	}
	wg.Wait()
	if n, err := ix.Len(ctx, c); err != nil || n != workers*(each-each/4) {
		t.Fatalf("Len = %d, %v; want %d", n, err, workers*(each-each/4))
	}
}
