package sqlite

import (
	"context"
	"fmt"
	"sort"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/store/vecindex"
)

// MaxScopedFaces is the most Facial IDs one identifier (an external ID) may
// scope a 1:1 comparison to; more is refused rather than silently searched.
const MaxScopedFaces = 32

// GallerySize returns the number of faces identification searches in the
// application's collection: the vector index's count when it is ready (no
// table scan at ten million faces), the table's otherwise.
func (db *DB) GallerySize(ctx context.Context, appID string) (int, error) {
	ak, err := db.appKey(ctx, appID)
	if err != nil {
		return 0, err
	}
	if err := db.index.ensure(ctx, ak.collection); err == nil {
		if n, err := db.index.vi.Len(ctx, ak.collection); err == nil {
			return n, nil
		}
	}
	return db.CountFaces(ctx, appID)
}

// FacialIDsByExternalID returns the application's Facial IDs carrying the
// external ID, oldest first. EINVALID for an empty or oversized ID or when
// more than MaxScopedFaces carry it.
func (db *DB) FacialIDsByExternalID(ctx context.Context, appID, externalID string) ([]string, error) {
	if externalID == "" || len(externalID) > MaxExternalID {
		return nil, likeness.Errorf(likeness.EINVALID, "externalId must be 1 to %d bytes.", MaxExternalID)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT facial_id FROM faces WHERE app_id = ? AND external_id = ?
		ORDER BY enrolled_at LIMIT ?`, appID, externalID, MaxScopedFaces+1)
	if err != nil {
		return nil, fmt.Errorf("sqlite: faces by external id: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: faces by external id: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: faces by external id: %w", err)
	}
	if len(ids) > MaxScopedFaces {
		return nil, likeness.Errorf(likeness.EINVALID, "More than %d faces carry this externalId.", MaxScopedFaces)
	}
	return ids, nil
}

// Compare returns the similarity of probe to each named face of the
// application (1:1, no index involved), best first; absent IDs are left
// out. Templates are opened in memory only and cleared after use.
func (db *DB) Compare(ctx context.Context, appID string, facialIDs []string, probe []float32) ([]likeness.Match, error) {
	if len(facialIDs) == 0 {
		return []likeness.Match{}, nil
	}
	if len(facialIDs) > MaxScopedFaces {
		return nil, likeness.Errorf(likeness.EINVALID, "At most %d faces can be compared at once.", MaxScopedFaces)
	}
	q, err := vecindex.Normalize(probe)
	if err != nil {
		return nil, likeness.Errorf(likeness.EINVALID, "Probe is not a usable face template.")
	}
	ak, err := db.appKey(ctx, appID)
	if err != nil {
		return nil, err
	}
	return db.similarities(ctx, appID, ak, facialIDs, q)
}

// similarities returns the exact similarity of the unit probe q to each
// named face of the application that still exists (from its sealed
// template, not the index), best first.
func (db *DB) similarities(ctx context.Context, appID string, ak appKey, facialIDs []string, q []float32) ([]likeness.Match, error) {
	if len(facialIDs) == 0 {
		return []likeness.Match{}, nil
	}
	sealed, err := db.sealedTemplates(ctx, appID, facialIDs)
	if err != nil {
		return nil, err
	}
	out := []likeness.Match{}
	for _, st := range sealed {
		plain, err := crypt.Open(ak.key, st.sealed, templateAAD(appID, st.id))
		if err != nil {
			return nil, fmt.Errorf("sqlite: compare %s: %w", st.id, err)
		}
		t, err := decodeTemplate(plain)
		clear(plain)
		if err != nil {
			return nil, fmt.Errorf("sqlite: compare %s: %w", st.id, err)
		}
		if len(t) == len(q) {
			out = append(out, likeness.Match{FacialID: st.id, Similarity: cosine(q, t)})
		}
		clear(t)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Similarity > out[j].Similarity })
	return out, nil
}

// cosine is the similarity of two templates; q is unit length and t is
// stored unit length, so their dot product is the cosine.
func cosine(q, t []float32) float32 {
	var s float32
	for i, x := range q {
		s += x * t[i]
	}
	return s
}
