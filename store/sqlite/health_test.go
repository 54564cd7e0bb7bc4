package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/pgtest"
	"github.com/likeness/likeness/store/sqlite"
)

// TestHealth: the checks /readyz and /metrics use answer from an open store
// and fail once it is closed; the backlog counts the pending deliveries.
func TestHealth(t *testing.T) {
	db := sqlite.OpenTest(t)
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := db.VectorsReady(ctx); err != nil {
		t.Fatalf("VectorsReady: %v", err)
	}
	if n, err := db.PendingWebhooks(ctx); n != 0 || err != nil {
		t.Fatalf("a new store's backlog: %d, %v", n, err)
	}
	app, _, _ := hookApp(t, db, "Backlog")
	hookEnroll(t, db, app.ID, "ext-1", "")
	hookEnroll(t, db, app.ID, "ext-2", "")
	tasks := claimAll(t, db, time.Now())
	if n, err := db.PendingWebhooks(ctx); n != len(tasks) || n == 0 || err != nil {
		t.Fatalf("backlog after two enrollments: %d, %v; %d deliveries due", n, err, len(tasks))
	}
	complete(t, db, &likeness.WebhookResult{Task: tasks[0], StatusCode: 204, Succeeded: true, StartedAt: time.Now()})
	if n, err := db.PendingWebhooks(ctx); n != len(tasks)-1 || err != nil {
		t.Fatalf("backlog after one delivery: %d, %v; want %d", n, err, len(tasks)-1)
	}
	pools := db.PoolStats()
	// SQLite writes through one connection; PostgreSQL through a few,
	// serialised by the writer lock.
	if w := pools["writer"].MaxOpenConnections; w < 1 || (w != 1 && !pgtest.Enabled()) || pools["reader"].MaxOpenConnections < 1 {
		t.Errorf("pools %+v", pools)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if db.Ping(c) == nil || db.VectorsReady(c) == nil {
		t.Error("a closed store answers its checks")
	}
	if _, err := db.PendingWebhooks(c); err == nil {
		t.Error("a closed store counts its backlog")
	}
}
