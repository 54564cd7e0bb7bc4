package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// metaServerURL is the meta key of the public URL `likeness serve` last
// announced, so that tools working on the same data directory (admin
// create) can print the real console address.
const metaServerURL = "server_url"

// SetServerURL records the server's public URL.
func (db *DB) SetServerURL(ctx context.Context, url string) error {
	return db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, metaServerURL, []byte(url))
		return err
	})
}

// ServerURL returns the public URL recorded by SetServerURL, or "" when the
// server never ran on this database.
func (db *DB) ServerURL(ctx context.Context) (string, error) {
	var v []byte
	err := db.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, metaServerURL).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: server URL: %w", err)
	}
	return string(v), nil
}
