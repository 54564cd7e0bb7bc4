package likeness

import "context"

// VectorIndex keeps the face templates of every collection and searches one
// collection at a time by cosine similarity. The embedded store owns the
// metadata (SQLite is the source of truth); the index holds a derived copy
// that the store updates after each commit and can rebuild from scratch.
//
// Implementations: store/vecindex (in process, rebuilt at every start) and
// store/weaviate (a Weaviate server, one tenant per collection).
// Collection names are the store's collection IDs ([A-Za-z0-9_], ≤ 48
// characters); IDs are Facial IDs (UUIDs).
//
// Every method may return a *Error with code EUNAVAILABLE when a networked
// backend cannot be reached, and EINVALID for a malformed vector.
type VectorIndex interface {
	// Ensure makes the collection ready: created when it does not exist,
	// opened otherwise. secret (32 bytes, derived from the application's data
	// key) protects the vectors a backend keeps outside the process; the
	// index keeps it in memory only, until Drop or Close. A collection must
	// be ensured before any other call names it.
	Ensure(ctx context.Context, collection string, secret []byte) error
	// Add stores v (need not be normalised) under id, replacing any vector
	// already stored under id. EINVALID for an unusable vector or one whose
	// dimension differs from the collection's.
	Add(ctx context.Context, collection, id string, v []float32) error
	// Remove deletes the vectors of ids; absent ids are no error. Searches
	// no longer return them once it returns. Whether their bytes are gone
	// from storage too is up to Compact.
	Remove(ctx context.Context, collection string, ids ...string) error
	// Search returns up to k vectors most similar to q, best first, with
	// their cosine similarity; none for an empty or unknown collection.
	// EINVALID for an unusable probe or one of another dimension.
	Search(ctx context.Context, collection string, q []float32, k int) ([]Match, error)
	// Len returns the number of vectors in the collection.
	Len(ctx context.Context, collection string) (int, error)
	// Dim returns the dimension of the collection's vectors, 0 when empty.
	Dim(ctx context.Context, collection string) (int, error)
	// IDs calls fn with the IDs stored in the collection, in batches, in no
	// particular order, until fn returns an error (which IDs returns).
	IDs(ctx context.Context, collection string, fn func(ids []string) error) error
	// Collections returns the names of the collections the backend holds,
	// ensured or not (for re-synchronisation with the metadata store).
	Collections(ctx context.Context) ([]string, error)
	// Drop deletes the collection and every vector in it, physically.
	Drop(ctx context.Context, collection string) error
	// Compact makes earlier removals physical: when it returns nil, no
	// removed vector of the collection remains in the backend's storage.
	// A no-op for a backend that never writes vectors to disk.
	Compact(ctx context.Context, collection string) error
	// Durable reports whether the index keeps its vectors across restarts.
	// The store reloads a non-durable index from its templates at start.
	Durable() bool
	// Close releases the index; it forgets every secret it holds.
	Close() error
}
