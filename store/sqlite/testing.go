package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/store/pgtest"
)

// OpenTest opens a fresh database with a random master key and the real
// clock, and closes it when the test ends: a file in tb.TempDir(), or, in
// the run of the tests on PostgreSQL (pgtest.Main), a new database.
func OpenTest(tb testing.TB) *DB {
	tb.Helper()
	key, err := crypt.NewDataKey()
	if err != nil {
		tb.Fatal(err)
	}
	db, err := Open(context.Background(), TestTarget(tb), Options{MasterKey: key})
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

// TestTarget returns where a test's fresh database is: a file path in
// tb.TempDir(), or in the run of the tests on PostgreSQL the URL of a new
// database. Pass it to Open.
func TestTarget(tb testing.TB) string {
	tb.Helper()
	if pgtest.Enabled() {
		return pgtest.NewDatabase(tb)
	}
	return filepath.Join(tb.TempDir(), "data", "likeness.db")
}

// OpenRawForTest opens the database at target (a file path or a
// PostgreSQL URL) directly, bypassing the store, for tests that tamper
// with it; on PostgreSQL it takes SQLite's placeholders, as the store does.
func OpenRawForTest(tb testing.TB, target string) *sql.DB {
	tb.Helper()
	var raw *sql.DB
	if IsPostgresURL(target) {
		cfg, err := pgx.ParseConfig(target)
		if err != nil {
			tb.Fatal(err)
		}
		raw = sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
	} else {
		var err error
		if raw, err = sql.Open("sqlite", target+"?_pragma=busy_timeout(10000)"); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
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
