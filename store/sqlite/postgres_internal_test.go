package sqlite

import (
	"database/sql/driver"
	"testing"
)

// TestRebind: placeholders become $n; what looks like a placeholder inside
// a string, a quoted identifier or a comment is left alone.
func TestRebind(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE x = ? AND y = ?`, `SELECT a FROM t WHERE x = $1 AND y = $2`},
		{`INSERT INTO t VALUES (?, '?', ?)`, `INSERT INTO t VALUES ($1, '?', $2)`},
		{`SELECT "we?rd" FROM t WHERE a = ?`, `SELECT "we?rd" FROM t WHERE a = $1`},
		{"SELECT a -- why?\nFROM t WHERE b = ?", "SELECT a -- why?\nFROM t WHERE b = $1"},
		{`UPDATE t SET a = ?2 WHERE b = ?1`, `UPDATE t SET a = $2 WHERE b = $1`},
		{`SELECT 'it''s ?' , ?`, `SELECT 'it''s ?' , $1`},
		{`SELECT 'unterminated ?`, `SELECT 'unterminated ?`},
		{`SELECT ? -- trailing ?`, `SELECT $1 -- trailing ?`},
	} {
		if got := rebind(tt.in); got != tt.want {
			t.Errorf("rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestIntBools: booleans are stored as the schema's 0/1 integers; other
// values pass unchanged.
func TestIntBools(t *testing.T) {
	args := intBools([]driver.NamedValue{{Value: true}, {Value: false}, {Value: int64(7)}, {Value: "true"}, {Value: nil}})
	want := []any{int64(1), int64(0), int64(7), "true", nil}
	for i, a := range args {
		if a.Value != want[i] {
			t.Errorf("arg %d = %#v, want %#v", i, a.Value, want[i])
		}
	}
}
