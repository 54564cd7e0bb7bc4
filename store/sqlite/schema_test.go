package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/likeness/likeness/store/pgtest"
	"github.com/likeness/likeness/store/sqlite"
)

// TestMigrationNamesMatch: every migration exists for both databases,
// under the same file name.
func TestMigrationNamesMatch(t *testing.T) {
	names := func(dir string) []string {
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	lite, pg := names("migrations"), names("migrations_postgres")
	if !slices.Equal(lite, pg) {
		t.Fatalf("migrations differ: SQLite has %v, PostgreSQL has %v; mirror each new migration in both directories", lite, pg)
	}
}

// TestSchemasMatch: after the migrations, both databases have the same
// tables with the same columns (name, type, NOT NULL), so that the shared
// code cannot meet a column that one of them lacks.
func TestSchemasMatch(t *testing.T) {
	if !pgtest.Enabled() {
		t.Skip("needs PostgreSQL: runs in the PostgreSQL run of the tests")
	}
	key := make([]byte, 32)
	litePath := filepath.Join(t.TempDir(), "likeness.db")
	lite, err := sqlite.Open(ctx, litePath, sqlite.Options{MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	lite.Close()
	target := sqlite.TestTarget(t)
	pg, err := sqlite.Open(ctx, target, sqlite.Options{MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	pg.Close()

	want := map[string]string{} // "table.column" → "type notnull"
	lraw := sqlite.OpenRawForTest(t, litePath)
	for _, tb := range column(t, lraw, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`) {
		rows, err := lraw.Query(`SELECT name, type, "notnull" OR pk FROM pragma_table_info(?)`, tb)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, typ string
			var notNull bool
			rows.Scan(&name, &typ, &notNull)
			typ = map[string]string{"INTEGER": "bigint", "TEXT": "text", "BLOB": "bytea"}[typ]
			want[tb+"."+name] = typ + notNullText(notNull)
		}
		rows.Close()
	}
	got := map[string]string{}
	praw := sqlite.OpenRawForTest(t, target)
	rows, err := praw.Query(`SELECT table_name, column_name, data_type, is_nullable = 'NO'
		FROM information_schema.columns WHERE table_schema = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tb, name, typ string
		var notNull bool
		rows.Scan(&tb, &name, &typ, &notNull)
		got[tb+"."+name] = typ + notNullText(notNull)
	}
	rows.Close()
	var diff []string
	for k, v := range want {
		if got[k] != v {
			diff = append(diff, k+": SQLite "+v+", PostgreSQL "+got[k])
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			diff = append(diff, k+": only PostgreSQL has it ("+v+")")
		}
	}
	slices.Sort(diff)
	if len(want) < 50 || len(diff) > 0 {
		t.Fatalf("%d columns on SQLite; schemas differ:\n%s", len(want), strings.Join(diff, "\n"))
	}
}

func notNullText(b bool) string {
	if b {
		return " not null"
	}
	return ""
}

func column(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out
}
