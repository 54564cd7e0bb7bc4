package sqlite

import (
	"context"
	"path/filepath"
	"testing"

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
