package sqlite_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
	"github.com/likeness/likeness/store/weaviate"
	"github.com/likeness/likeness/store/weaviate/weaviatetest"
)

// openWith opens the fixture's database with a vector index.
func (f *fixture) openWith(t *testing.T, vi likeness.VectorIndex) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(ctx, f.path, sqlite.Options{Now: f.clock.Now, MasterKey: f.key, Index: vi})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openWeaviate(t *testing.T, s *weaviatetest.Server) *weaviate.Index {
	t.Helper()
	ix, err := weaviate.Open(ctx, weaviate.Options{URL: s.URL, APIKey: s.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func journal(t *testing.T, f *fixture) map[string]string {
	t.Helper()
	rows, err := f.raw(t).Query(`SELECT facial_id, op FROM vector_journal`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, op string
		if err := rows.Scan(&id, &op); err != nil {
			t.Fatal(err)
		}
		out[id] = op
	}
	return out
}

func top(t *testing.T, db *sqlite.DB, appID string, v []float32) string {
	t.Helper()
	m, err := db.Search(ctx, appID, v, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 {
		return ""
	}
	return m[0].FacialID
}

// TestStoreWithWeaviate runs the store's face life cycle on Weaviate:
// enrollment, isolation, erasure (logical at once, physical after
// CompactIndex), erasure by external ID, application deletion, reopening.
func TestStoreWithWeaviate(t *testing.T) {
	s := weaviatetest.New(t)
	f := newFixture(t)
	vi := openWeaviate(t, s)
	db := f.openWith(t, vi)
	if db.Index() != nil {
		t.Fatal("Index() returns an in-process index while Weaviate is configured")
	}
	a, _ := mustApp(t, db, "A")
	b, _ := mustApp(t, db, "B")
	r := rand.New(rand.NewPCG(1, 1))
	var faces []*likeness.Face
	var tmpls [][]float32
	for i := range 8 {
		tm := randTemplate(r, 512)
		tmpls = append(tmpls, tm)
		in := likeness.Enrollment{AppID: a.ID, ConsentID: mustConsent(t, db, a.ID), Template: tm}
		if i >= 6 {
			in.ExternalID = "user-42"
		}
		face, err := db.Enroll(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		faces = append(faces, face)
	}
	for i, tm := range tmpls {
		if got := top(t, db, a.ID, tm); got != faces[i].FacialID {
			t.Fatalf("face %d: top match %q, want %s", i, got, faces[i].FacialID)
		}
		if got := top(t, db, b.ID, tm); got != "" {
			t.Fatalf("application B found A's face %s", got)
		}
	}
	if n, err := vi.Len(ctx, a.CollectionID); err != nil || n != 8 {
		t.Fatalf("Weaviate holds %d vectors, %v; want 8", n, err)
	}

	// Erasure: gone from answers at once, journaled until compacted.
	if err := db.DeleteFace(ctx, a.ID, faces[0].FacialID, likeness.ReasonAPI); err != nil {
		t.Fatal(err)
	}
	if got := top(t, db, a.ID, tmpls[0]); got == faces[0].FacialID {
		t.Fatal("an erased face is still found")
	}
	if n, _ := vi.Len(ctx, a.CollectionID); n != 7 {
		t.Fatalf("Weaviate holds %d vectors after an erasure, want 7", n)
	}
	if j := journal(t, f); j[faces[0].FacialID] != "remove" {
		t.Fatalf("journal %v: the erasure is not pending physical removal", j)
	}
	if n, err := db.DeleteFacesByExternalID(ctx, a.ID, "user-42", likeness.ReasonAPI); err != nil || n != 2 {
		t.Fatalf("DeleteFacesByExternalID = %d, %v", n, err)
	}
	if n, _ := vi.Len(ctx, a.CollectionID); n != 5 {
		t.Fatalf("Weaviate holds %d vectors after erasure by external ID, want 5", n)
	}
	if err := db.CompactIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if j := journal(t, f); len(j) != 0 {
		t.Fatalf("journal after CompactIndex: %v", j)
	}
	for i := 1; i < 6; i++ {
		if got := top(t, db, a.ID, tmpls[i]); got != faces[i].FacialID {
			t.Fatalf("after compaction face %d: %q", i, got)
		}
	}

	// Reopening: Weaviate keeps the vectors, nothing is reloaded.
	db.Close()
	vi.Close()
	vi = openWeaviate(t, s)
	db = f.openWith(t, vi)
	for i := 1; i < 6; i++ {
		if got := top(t, db, a.ID, tmpls[i]); got != faces[i].FacialID {
			t.Fatalf("after reopening face %d: %q", i, got)
		}
	}

	// Deleting the application drops its tenant.
	if err := db.DeleteApp(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	cols, err := vi.Collections(ctx)
	if err != nil || slices.Contains(cols, a.CollectionID) {
		t.Fatalf("after DeleteApp Weaviate has %v, %v", cols, err)
	}
}

// TestIndexJournalRetries: with Weaviate down, erasures and enrollments
// still commit; the index changes they owe are journaled and applied once
// Weaviate is back.
func TestIndexJournalRetries(t *testing.T) {
	s := weaviatetest.New(t)
	f := newFixture(t)
	vi := openWeaviate(t, s)
	db := f.openWith(t, vi)
	a, _ := mustApp(t, db, "A")
	r := rand.New(rand.NewPCG(2, 2))
	t1, t2 := randTemplate(r, 128), randTemplate(r, 128)
	f1 := mustEnroll(t, db, a.ID, t1)

	s.Stop()
	if err := db.DeleteFace(ctx, a.ID, f1.FacialID, likeness.ReasonAPI); err != nil {
		t.Fatalf("erasure with Weaviate down: %v", err)
	}
	f2 := mustEnroll(t, db, a.ID, t2)
	if _, err := db.Search(ctx, a.ID, t2, 1); likeness.ErrorCode(err) != likeness.EUNAVAILABLE {
		t.Fatalf("search with Weaviate down: %v, want %s", err, likeness.EUNAVAILABLE)
	}
	if j := journal(t, f); j[f1.FacialID] != "remove" || j[f2.FacialID] != "add" {
		t.Fatalf("journal %v: want remove %s and add %s", j, f1.FacialID, f2.FacialID)
	}

	if err := s.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if got := top(t, db, a.ID, t2); got != f2.FacialID {
		t.Fatalf("journaled enrollment not indexed: %q", got)
	}
	if ids := idsOf(t, vi, a.CollectionID); slices.Contains(ids, f1.FacialID) || len(ids) != 1 {
		t.Fatalf("Weaviate holds %v after the retried erasure", ids)
	}
	if err := db.CompactIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if j := journal(t, f); len(j) != 0 {
		t.Fatalf("journal after recovery: %v", j)
	}
}

func idsOf(t *testing.T, vi likeness.VectorIndex, col string) []string {
	t.Helper()
	var out []string
	if err := vi.IDs(ctx, col, func(ids []string) error { out = append(out, ids...); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRebuildIndex: the index drifts from the database (vectors lost, a
// vector left behind by a crash between commit and removal, a collection of
// a deleted application); RebuildIndex adds the missing, removes the extra
// and drops the orphan collection.
func TestRebuildIndex(t *testing.T) {
	s := weaviatetest.New(t)
	f := newFixture(t)
	vi := openWeaviate(t, s)
	db := f.openWith(t, vi)
	a, _ := mustApp(t, db, "A")
	r := rand.New(rand.NewPCG(3, 3))
	var faces []*likeness.Face
	var tmpls [][]float32
	for range 6 {
		tm := randTemplate(r, 64)
		tmpls = append(tmpls, tm)
		faces = append(faces, mustEnroll(t, db, a.ID, tm))
	}
	// Lost: two vectors vanish from Weaviate.
	if err := vi.Remove(ctx, a.CollectionID, faces[0].FacialID, faces[1].FacialID); err != nil {
		t.Fatal(err)
	}
	// Left behind: a vector with no face.
	ghost := uuid.NewString()
	if err := vi.Add(ctx, a.CollectionID, ghost, randTemplate(r, 64)); err != nil {
		t.Fatal(err)
	}
	// Orphan: a collection no application owns.
	orphan := "col_orphan0000000000000"
	if err := vi.Ensure(ctx, orphan, make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	if err := vi.Add(ctx, orphan, uuid.NewString(), randTemplate(r, 64)); err != nil {
		t.Fatal(err)
	}

	rep, err := db.RebuildIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 2 || rep.Removed != 1 || rep.Dropped != 1 || rep.Faces != 6 || rep.Collections != 1 {
		t.Fatalf("report %+v, want 2 added, 1 removed, 1 dropped of 6 faces in 1 collection", rep)
	}
	ids := idsOf(t, vi, a.CollectionID)
	slices.Sort(ids)
	var want []string
	for _, fc := range faces {
		want = append(want, fc.FacialID)
	}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("after rebuild Weaviate holds %v, want %v", ids, want)
	}
	for i, tm := range tmpls {
		if got := top(t, db, a.ID, tm); got != faces[i].FacialID {
			t.Fatalf("after rebuild face %d: %q", i, got)
		}
	}
	if cols, _ := vi.Collections(ctx); slices.Contains(cols, orphan) {
		t.Fatalf("orphan collection survived: %v", cols)
	}
	// A second rebuild finds nothing to do.
	if rep, err := db.RebuildIndex(ctx); err != nil || rep.Added+rep.Removed+rep.Dropped != 0 {
		t.Fatalf("second rebuild %+v, %v", rep, err)
	}
}

// TestStaleIndexNeverAnswers: a face deleted behind the index's back (as
// after a crash between the commit and the index update) is not returned.
func TestStaleIndexNeverAnswers(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	a, _ := mustApp(t, db, "A")
	r := rand.New(rand.NewPCG(4, 4))
	tm := randTemplate(r, 64)
	face := mustEnroll(t, db, a.ID, tm)
	if _, err := f.raw(t).Exec(`DELETE FROM faces WHERE facial_id = ?`, face.FacialID); err != nil {
		t.Fatal(err)
	}
	if db.Index().Len(a.CollectionID) != 1 {
		t.Fatal("the test needs the stale vector in the index")
	}
	if got := top(t, db, a.ID, tm); got != "" {
		t.Fatalf("a deleted face was returned: %s", got)
	}
	if j := journal(t, f); j[face.FacialID] != "remove" {
		t.Fatalf("the deletion was not journaled by the trigger: %v", j)
	}
	// A restart reloads only what the database holds.
	db.Close()
	db = f.open(t)
	if db.Index().Len(a.CollectionID) != 0 {
		t.Fatal("the stale vector was reloaded")
	}
}

// TestEmbeddedCompactClearsJournal: with the in-memory index an erasure is
// physical at once; CompactIndex only clears the journal.
func TestEmbeddedCompactClearsJournal(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	a, _ := mustApp(t, db, "A")
	face := mustEnroll(t, db, a.ID, randTemplate(rand.New(rand.NewPCG(5, 5)), 32))
	if err := db.DeleteFace(ctx, a.ID, face.FacialID, likeness.ReasonAPI); err != nil {
		t.Fatal(err)
	}
	if len(journal(t, f)) != 1 {
		t.Fatal("erasure not journaled")
	}
	if err := db.CompactIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if j := journal(t, f); len(j) != 0 {
		t.Fatalf("journal after CompactIndex: %v", j)
	}
}

// TestTenantMadeWithApplication: creating an application makes its tenant.
func TestTenantMadeWithApplication(t *testing.T) {
	s := weaviatetest.New(t)
	f := newFixture(t)
	vi := openWeaviate(t, s)
	db := f.openWith(t, vi)
	a, _ := mustApp(t, db, "A")
	cols, err := vi.Collections(ctx)
	if err != nil || !slices.Contains(cols, a.CollectionID) {
		t.Fatalf("after CreateApp Weaviate has %v, %v", cols, err)
	}
}
