package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

// OpenTest opens a fresh database in tb.TempDir() with a random master key
// and the real clock, and closes it when the test ends.
func OpenTest(tb testing.TB) *DB {
	tb.Helper()
	key, err := crypt.NewDataKey()
	if err != nil {
		tb.Fatal(err)
	}
	db, err := Open(context.Background(), filepath.Join(tb.TempDir(), "likeness.db"), Options{MasterKey: key})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

// FillForTest makes the database full for tests of a full disk: the writer
// may not grow the file beyond its current pages (PRAGMA max_page_count),
// and the free pages inside it are used up, as when the disk has no space
// left.
func (db *DB) FillForTest(tb testing.TB) {
	tb.Helper()
	db.wmu.Lock()
	defer db.wmu.Unlock()
	ctx := context.Background()
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS test_fill (b BLOB)`); err != nil {
		tb.Fatal(err)
	}
	var n int
	if err := db.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, `PRAGMA max_page_count = `+strconv.Itoa(n)); err != nil {
		tb.Fatal(err)
	}
	for size := 4096; size >= 1; size /= 2 {
		for {
			if _, err := db.w.ExecContext(ctx, `INSERT INTO test_fill (b) VALUES (zeroblob(?))`, size); err != nil {
				if !isFull(err) {
					tb.Fatal(err)
				}
				break
			}
		}
	}
	// Fill the pages of the audit trail and the outbox too, with what a
	// busy server writes: consent records, each audited with its event.
	for i := 0; ; i++ {
		err := db.updateLocked(ctx, func(tx *sql.Tx) error {
			return db.auditTx(ctx, tx, likeness.AuditEntry{Action: "test.fill", Details: json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)})
		})
		if isFull(err) {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}
