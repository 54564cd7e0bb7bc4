package vecindex

import (
	"context"

	"github.com/likeness/likeness"
)

// idBatch is how many IDs Vectors.IDs hands over at a time.
const idBatch = 1000

// Vectors is an Index seen as a likeness.VectorIndex. It lives in process
// memory only (not durable): the store reloads it at every start. It needs
// no secret and keeps none.
type Vectors struct{ ix *Index }

var _ likeness.VectorIndex = (*Vectors)(nil)

// NewVectors returns an empty in-process likeness.VectorIndex.
func NewVectors() *Vectors { return New().Vectors() }

// Vectors returns ix as a likeness.VectorIndex.
func (ix *Index) Vectors() *Vectors { return &Vectors{ix: ix} }

// Index returns the underlying index.
func (v *Vectors) Index() *Index { return v.ix }

// Ensure does nothing: collections appear with their first vector.
func (v *Vectors) Ensure(ctx context.Context, collection string, secret []byte) error { return nil }

// Add stores a vector. EINVALID for an unusable vector or a dimension other
// than the collection's.
func (v *Vectors) Add(ctx context.Context, collection, id string, vec []float32) error {
	if err := v.ix.Add(collection, id, vec); err != nil {
		return likeness.Wrap(err, likeness.EINVALID, "Template is not a usable face template.")
	}
	return nil
}

// AddBatch stores len(ids) vectors (vecs holds them one after another), as
// Add for each in order would, taking the index's lock once. EINVALID, and
// nothing stored, when a row is unusable (the error names it).
func (v *Vectors) AddBatch(ctx context.Context, collection string, ids []string, vecs []float32) error {
	if err := v.ix.AddBatch(collection, ids, vecs); err != nil {
		return likeness.Wrap(err, likeness.EINVALID, "Template is not a usable face template.")
	}
	return nil
}

// Remove deletes vectors; their memory is overwritten.
func (v *Vectors) Remove(ctx context.Context, collection string, ids ...string) error {
	for _, id := range ids {
		v.ix.Remove(collection, id)
	}
	return nil
}

// Search returns the best matches. EINVALID for an unusable probe or one of
// another dimension than the collection's.
func (v *Vectors) Search(ctx context.Context, collection string, q []float32, k int) ([]likeness.Match, error) {
	if _, _, err := measure(q); err != nil {
		return nil, likeness.Wrap(err, likeness.EINVALID, "Probe is not a usable face template.")
	}
	if d := v.ix.Dim(collection); d != 0 && d != len(q) {
		return nil, likeness.Errorf(likeness.EINVALID, "Probe dimension does not match the collection's.")
	}
	m := v.ix.Search(collection, q, k)
	if m == nil {
		m = []likeness.Match{}
	}
	return m, nil
}

// Len returns the number of vectors in the collection.
func (v *Vectors) Len(ctx context.Context, collection string) (int, error) {
	return v.ix.Len(collection), nil
}

// Dim returns the collection's dimension, 0 when empty.
func (v *Vectors) Dim(ctx context.Context, collection string) (int, error) {
	return v.ix.Dim(collection), nil
}

// IDs hands over a snapshot of the collection's IDs in batches.
func (v *Vectors) IDs(ctx context.Context, collection string, fn func(ids []string) error) error {
	ids := v.ix.IDs(collection)
	for len(ids) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(idBatch, len(ids))
		if err := fn(ids[:n:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// Collections returns the non-empty collections.
func (v *Vectors) Collections(ctx context.Context) ([]string, error) {
	return v.ix.Collections(), nil
}

// Drop removes the collection, overwriting its vectors.
func (v *Vectors) Drop(ctx context.Context, collection string) error {
	v.ix.Drop(collection)
	return nil
}

// Reserve makes room for n vectors in the collection before a bulk load.
func (v *Vectors) Reserve(collection string, n int) { v.ix.Reserve(collection, n) }

// Compact does nothing: removed vectors are overwritten at once.
func (v *Vectors) Compact(ctx context.Context, collection string) error { return nil }

// Durable reports false: the index lives in memory only.
func (v *Vectors) Durable() bool { return false }

// Close empties the index, overwriting every vector.
func (v *Vectors) Close() error {
	v.ix.Clear()
	return nil
}
