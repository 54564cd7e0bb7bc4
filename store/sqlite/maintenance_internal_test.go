package sqlite

import (
	"context"
	"testing"

	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/store/pgtest"
)

// TestMaintenanceOneReplicaAtATime: while one replica runs maintenance
// (retention purge, index compaction), another skips it; afterwards it runs.
func TestMaintenanceOneReplicaAtATime(t *testing.T) {
	if !pgtest.Enabled() {
		t.Skip("several replicas need PostgreSQL: runs in the PostgreSQL run of the tests")
	}
	ctx := context.Background()
	key, _ := crypt.NewDataKey()
	target := TestTarget(t)
	open := func() *DB {
		db, err := Open(ctx, target, Options{MasterKey: key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
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
