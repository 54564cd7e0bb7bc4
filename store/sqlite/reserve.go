package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"syscall"

	sqlite3 "modernc.org/sqlite/lib"
)

// Space reserved for erasures, so that a person can still be erased when
// the disk (or the database's size limit) is full: deleting writes too
// (the WAL, secure_delete's zeroed pages, the audit entry and the
// facialid.deleted event).
const (
	reserveRows     = 4        // rows of erasure_reserve
	reserveRowBytes = 64 << 10 // each: 256 KiB in the database in all
	reserveFileSize = 8 << 20  // the file beside the database, for the WAL
)

// reservePath is the file kept beside the database: freed when an erasure
// meets a full disk, so the WAL can grow.
func (db *DB) reservePath() string { return db.path + ".reserve" }

// ensureReserve makes the reserve, in the database and beside it, when it
// is missing. Best effort: on a full disk it stays missing until a later
// call succeeds.
func (db *DB) ensureReserve(ctx context.Context) {
	if db.postgres {
		return // PostgreSQL manages its own space
	}
	if _, err := os.Stat(db.reservePath()); errors.Is(err, os.ErrNotExist) {
		if f, err := os.OpenFile(db.reservePath(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			err := allocate(f, reserveFileSize)
			f.Close()
			if err != nil {
				os.Remove(db.reservePath())
			}
		}
	}
	_ = db.update(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM erasure_reserve`).Scan(&n); err != nil {
			return err
		}
		for i := n; i < reserveRows; i++ {
			if _, err := tx.ExecContext(ctx, `INSERT INTO erasure_reserve (filler) VALUES (zeroblob(?))`, reserveRowBytes); err != nil {
				return err
			}
		}
		return nil
	})
}

// isFull reports whether err says the disk or the database is full.
func isFull(err error) bool {
	return err != nil && (sqliteCode(err)&0xff == sqlite3.SQLITE_FULL || errors.Is(err, syscall.ENOSPC) ||
		pgCode(err) == "53100") // disk_full
}

// eraseLocked runs an erasure transaction; the caller holds db.wmu. When
// it fails for lack of space, it frees the reserve file and runs again with
// the reserved rows deleted first in the same transaction, so that the
// erasure's own writes reuse their pages. An erasure never needs new space
// while the reserve lasts; ensureReserve makes it again later.
func (db *DB) eraseLocked(ctx context.Context, fn func(tx *sql.Tx) error) error {
	err := db.updateLocked(ctx, fn)
	if !isFull(err) {
		return err
	}
	_ = os.Remove(db.reservePath())
	return db.updateLocked(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM erasure_reserve`); err != nil {
			return err
		}
		return fn(tx)
	})
}
