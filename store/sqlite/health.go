package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/likeness/likeness"
)

var _ likeness.StoreHealth = (*DB)(nil)

// Ping checks that the database answers a query on its schema (for
// /readyz), on SQLite as on PostgreSQL.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// PendingWebhooks returns the number of webhook deliveries not yet made
// (the outbox backlog), for monitoring.
func (db *DB) PendingWebhooks(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: pending webhooks: %w", err)
	}
	return n, nil
}

// PoolStats returns the connection pools' statistics by pool name: the
// single writer and the readers.
func (db *DB) PoolStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"writer": db.w.Stats(), "reader": db.r.Stats()}
}

// VectorsReady reports whether the vector index answers, for /readyz: the
// index's own Ready when it has one (Weaviate); the in-process index is
// loaded by Open, so it is ready while the database answers.
func (db *DB) VectorsReady(ctx context.Context) error {
	if r, ok := db.index.vi.(interface{ Ready(context.Context) error }); ok {
		return r.Ready(ctx)
	}
	return db.Ping(ctx)
}
