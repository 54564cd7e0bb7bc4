package sqlite

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/vecindex"
)

// addOnly is an index without AddBatch, as Weaviate is.
type addOnly struct{ likeness.VectorIndex }

// TestLoader feeds the same templates to a loader over the embedded index
// (which takes batches) and over one that only has Add: over several
// batches, with a change of dimension, both hold the same faces and a bad
// template is refused with an error naming its face.
func TestLoader(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 3))
	const dim = 64
	n := 2*loadBatch + 100
	plain := func(v []float32) []byte { return encodeTemplate(v) }
	ids := make([]string, n)
	tmpls := make([][]float32, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("face-%d", i)
		tmpls[i] = make([]float32, dim)
		for d := range tmpls[i] {
			tmpls[i][d] = float32(r.NormFloat64())
		}
	}
	batched := vecindex.NewVectors()
	for _, vi := range []likeness.VectorIndex{batched, addOnly{vecindex.NewVectors()}} {
		x := newIndexer(nil, vi, slog.New(slog.DiscardHandler))
		if _, ok := vi.(*vecindex.Vectors); ok != (x.bulk != nil) {
			t.Fatalf("%T: batches detected %v", vi, x.bulk != nil)
		}
		l := &loader{x: x, collection: "c"}
		for i, id := range ids {
			if err := l.add(ctx, id, plain(tmpls[i])); err != nil {
				t.Fatal(err)
			}
			// The buffer grows with the batch: a collection of a few faces
			// does not hold a whole batch's memory.
			if i == 9 && cap(l.vecs) > loadBatch*dim/16 {
				t.Fatalf("%d components' room for 10 templates", cap(l.vecs))
			}
		}
		if err := l.flush(ctx); err != nil {
			t.Fatal(err)
		}
		if len(l.ids) != 0 || slices.ContainsFunc(l.vecs[:cap(l.vecs)], func(x float32) bool { return x != 0 }) {
			t.Fatal("the loader kept templates after adding them")
		}
		if got, _ := vi.Len(ctx, "c"); got != n {
			t.Fatalf("%T: Len %d, want %d", vi, got, n)
		}
		for _, i := range []int{0, loadBatch - 1, loadBatch, n - 1} {
			if m, _ := vi.Search(ctx, "c", tmpls[i], 1); len(m) != 1 || m[0].FacialID != ids[i] {
				t.Fatalf("%T: search for %s: %v", vi, ids[i], m)
			}
		}

		// A template of another dimension ends the batch before it; the
		// index refuses it, naming the face.
		l = &loader{x: x, collection: "c"}
		if err := l.add(ctx, "bad-dim", plain(tmpls[0][:dim/2])); err != nil {
			t.Fatal(err)
		}
		if err := l.add(ctx, "fine", plain(tmpls[1])); err == nil || !strings.Contains(err.Error(), "bad-dim") {
			t.Fatalf("%T: a template of another dimension: %v", vi, err)
		}
		// A NaN component: refused with its face named.
		l = &loader{x: x, collection: "c"}
		bad := slices.Clone(tmpls[3])
		bad[7] = float32(math.NaN())
		if err := l.add(ctx, "good", plain(tmpls[2])); err != nil {
			t.Fatal(err)
		}
		if err := l.add(ctx, "bad-nan", plain(bad)); err != nil {
			t.Fatal(err)
		}
		if err := l.flush(ctx); err == nil || !strings.Contains(err.Error(), "bad-nan") {
			t.Fatalf("%T: a NaN template: %v", vi, err)
		}
		if err := l.add(ctx, "bad-size", []byte{1, 2, 3}); err == nil || !strings.Contains(err.Error(), "bad-size") {
			t.Fatalf("%T: a template of 3 bytes: %v", vi, err)
		}
	}
	// A refused batch leaves the embedded index as it was ("good" came
	// in the batch with "bad-nan").
	if got, _ := batched.Len(ctx, "c"); got != n {
		t.Fatalf("Len %d after refused batches, want %d", got, n)
	}
}
