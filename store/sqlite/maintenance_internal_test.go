package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/store/pgtest"
)

// openReplicas opens two stores on one new database (the same file twice
// on SQLite, one database on PostgreSQL), as two servers would.
func openReplicas(t *testing.T) (*DB, *DB) {
	t.Helper()
	key, _ := crypt.NewDataKey()
	target := TestTarget(t)
	open := func() *DB {
		db, err := Open(context.Background(), target, Options{MasterKey: key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	return open(), open()
}

// needPostgres skips a test of what only PostgreSQL replicas do.
func needPostgres(t *testing.T) {
	t.Helper()
	if !pgtest.Enabled() {
		t.Skip("several replicas need PostgreSQL: runs in the PostgreSQL run of the tests")
	}
}

// TestFeedGapRebuilds: a replica that could not poll for longer than the
// feed keeps its rows re-reads every collection, and so still finds what
// was enrolled meanwhile and drops what was erased.
func TestFeedGapRebuilds(t *testing.T) {
	ctx := context.Background()
	needPostgres(t)
	a, b := openReplicas(t)
	b.stopFeed() // B stops polling
	app, _, err := a.CreateApp(ctx, likeness.AppCreate{Name: "Shop", Origins: []string{"https://shop.example"}})
	if err != nil {
		t.Fatal(err)
	}
	enroll := func(seed uint64) *likeness.Face {
		rec := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: app.ID, Kind: likeness.ConsentAPI, CreatedAt: time.Now()}
		if err := a.CreateConsentRecord(ctx, rec); err != nil {
			t.Fatal(err)
		}
		f, err := a.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: rec.ID, Template: template(seed)})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	gone := enroll(1)
	if err := b.PollFeed(ctx); err != nil || b.Index().Len(app.CollectionID) != 1 {
		t.Fatalf("B after a poll: %d vectors, %v", b.Index().Len(app.CollectionID), err)
	}
	kept := enroll(2)
	if err := a.DeleteFace(ctx, app.ID, gone.FacialID, likeness.ReasonAPI); err != nil {
		t.Fatal(err)
	}
	// The feed rows B missed are purged, and B's last poll is too old.
	if _, err := a.w.ExecContext(ctx, `DELETE FROM vector_feed`); err != nil {
		t.Fatal(err)
	}
	b.feed.mu.Lock()
	b.feed.lastPoll = time.Now().Add(-feedRetention)
	b.feed.mu.Unlock()
	if err := b.PollFeed(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := b.index.vi.Search(ctx, app.CollectionID, template(2), 5)
	if err != nil || len(m) != 1 || m[0].FacialID != kept.FacialID {
		t.Fatalf("B's index after the gap: %+v, %v; want only %s", m, err, kept.FacialID)
	}
}

// TestMaintenanceOneReplicaAtATime: while one replica runs maintenance
// (retention purge, index compaction), another skips it; afterwards it runs.
func TestMaintenanceOneReplicaAtATime(t *testing.T) {
	ctx := context.Background()
	needPostgres(t)
	a, b := openReplicas(t)
	ranA, err := a.tryMaintenance(ctx, func() error {
		ranB, err := b.tryMaintenance(ctx, func() error { return nil })
		if err != nil || ranB {
			t.Errorf("B ran maintenance while A held it (%v)", err)
		}
		if n, err := b.PurgeExpired(ctx); err != nil || n != 0 {
			t.Errorf("B's purge while A maintains: %d, %v", n, err)
		}
		return nil
	})
	if err != nil || !ranA {
		t.Fatalf("A: ran %v, %v", ranA, err)
	}
	if ranB, err := b.tryMaintenance(ctx, func() error { return nil }); err != nil || !ranB {
		t.Fatalf("B after A: ran %v, %v", ranB, err)
	}
}
