package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/likeness/likeness"
)

// copyOrder lists the tables in an order that satisfies their foreign
// keys; tables not named here (added by later migrations) are copied after
// them, in name order.
var copyOrder = []string{
	"meta", "organizations", "applications", "api_keys", "webhook_endpoints", "notices", "consent_records",
	"faces", "face_images", "signing_keys", "webhook_events", "webhook_deliveries", "webhook_attempts",
	"console_users", "org_members", "org_invitations", "support_grants",
}

// notCopied are tables whose rows belong to one database: its migrations,
// SQLite's erasure reserve, and the replicas' vector feed.
var notCopied = map[string]bool{"schema_migrations": true, "erasure_reserve": true, "vector_feed": true}

// CopyReport counts the rows CopyTo copied, by table.
type CopyReport struct {
	Rows map[string]int64
}

// CopyTo copies every row of every table of db (a SQLite store) into dst (a
// PostgreSQL store opened on an empty database), in one transaction, as
// stored: sealed templates, payloads, images and keys stay sealed, with
// the same master key, which dst must have been opened with. dst's own
// meta rows (its master key check and empty audit checkpoint) are replaced
// by db's. EINVALID (and nothing is copied) when dst already holds data.
// Afterwards dst's identity sequences continue after the copied rows, and
// the copy is audited (store.copied, the actor from ctx).
func (db *DB) CopyTo(ctx context.Context, dst *DB) (*CopyReport, error) {
	if db.postgres || !dst.postgres {
		return nil, fmt.Errorf("store: copy goes from a SQLite store to a PostgreSQL one")
	}
	tables, err := db.copyTables(ctx)
	if err != nil {
		return nil, err
	}
	rep := &CopyReport{Rows: map[string]int64{}}
	err = dst.update(ctx, func(tx *sql.Tx) error {
		for _, t := range []string{"organizations", "applications", "faces", "console_users", "audit_events", "signing_keys"} {
			var n int64
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return likeness.Errorf(likeness.EINVALID, "The target database is not empty (%s has %d rows); copy only into a new database.", t, n)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM meta`); err != nil {
			return err
		}
		for _, t := range tables {
			n, err := db.copyTable(ctx, tx, t)
			if err != nil {
				return fmt.Errorf("copy %s: %w", t, err)
			}
			rep.Rows[t] = n
		}
		// Identity columns go on after the copied values.
		for _, c := range [][2]string{{"webhook_deliveries", "id"}, {"webhook_attempts", "id"}, {"vector_journal", "seq"}} {
			if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+c[0]+`', '`+c[1]+`'),
				(SELECT coalesce(max(`+c[1]+`), 0) + 1 FROM `+c[0]+`), false)`); err != nil {
				return fmt.Errorf("copy: sequence of %s: %w", c[0], err)
			}
		}
		// The copied faces are loaded by each server at start, not fed.
		if _, err := tx.ExecContext(ctx, `DELETE FROM vector_feed`); err != nil {
			return err
		}
		raw, _ := json.Marshal(map[string]any{"rows": rep.Rows})
		return dst.auditTx(ctx, tx, likeness.AuditEntry{Action: "store.copied", Details: raw})
	})
	if err != nil {
		return nil, err
	}
	dst.mu.Lock()
	clear(dst.apps) // keys cached before the copy belong to nothing
	dst.mu.Unlock()
	return rep, nil
}

// copyTables returns the tables to copy, parents before children.
func (db *DB) copyTables(ctx context.Context) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tables: %w", err)
	}
	defer rows.Close()
	var rest []string
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		have[n] = true
		if !slices.Contains(copyOrder, n) && !notCopied[n] {
			rest = append(rest, n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []string
	for _, t := range copyOrder {
		if have[t] {
			out = append(out, t)
		}
	}
	return append(out, rest...), nil
}

// copyBatch is how many rows one INSERT carries.
const copyBatch = 200

// copyTable copies one table's rows into tx, returning how many.
func (db *DB) copyTable(ctx context.Context, tx *sql.Tx, table string) (int64, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	row := "(?" + strings.Repeat(", ?", len(cols)-1) + ")"
	insert := func(args []any) error {
		n := len(args) / len(cols)
		_, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (`+strings.Join(cols, ", ")+`) VALUES `+
			row+strings.Repeat(", "+row, n-1), args...)
		return err
	}
	var total int64
	args := make([]any, 0, copyBatch*len(cols))
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return total, err
		}
		args = append(args, vals...)
		total++
		if len(args) == copyBatch*len(cols) {
			if err := insert(args); err != nil {
				return total, err
			}
			args = args[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return total, err
	}
	if len(args) > 0 {
		if err := insert(args); err != nil {
			return total, err
		}
	}
	return total, nil
}
