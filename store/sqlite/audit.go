package sqlite

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/likeness/likeness"
)

// genesisHash is the previous hash of an organization's first entry.
var genesisHash = strings.Repeat("0", 64)

// auditKey derives the audit chain's HMAC key from the master key, so an
// entry cannot be forged or re-hashed by someone who can edit the database
// file but does not hold the master key.
func auditKey(master []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, master, nil, "likeness audit chain v1", 32)
}

// auditHash is the HMAC of an entry chained to the previous one.
func auditHash(key []byte, e *likeness.AuditEntry) string {
	m := hmac.New(sha256.New, key)
	details := e.Details
	if len(details) == 0 {
		details = json.RawMessage("{}")
	}
	fields := []string{e.PrevHash, e.OrgID, strconv.FormatInt(e.Seq, 10), strconv.FormatInt(ms(e.At), 10),
		e.Actor, e.Action, e.AppID, e.Target, string(details)}
	for _, f := range fields {
		// Length-prefixed, so no two different entries hash the same bytes.
		m.Write([]byte(strconv.Itoa(len(f)) + ":" + f))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// auditTx appends an entry to the organization's chain inside tx, so the
// change and its audit entry commit together. OrgID may be empty when AppID
// is set; Actor defaults to likeness.ActorFrom(ctx); At to now.
func (db *DB) auditTx(ctx context.Context, tx *sql.Tx, e likeness.AuditEntry) error {
	if e.OrgID == "" {
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(org_id, '') FROM applications WHERE id = ?`, e.AppID).Scan(&e.OrgID); err != nil {
			return fmt.Errorf("sqlite: audit: organization of %s: %w", e.AppID, err)
		}
	}
	if e.Actor == "" {
		e.Actor = likeness.ActorFrom(ctx)
	}
	e.At = db.nowTime()
	if len(e.Details) == 0 {
		e.Details = json.RawMessage("{}")
	}
	var seq sql.NullInt64
	var prev sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events WHERE org_id = ? ORDER BY seq DESC LIMIT 1`,
		e.OrgID).Scan(&seq, &prev); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: audit head: %w", err)
	}
	e.Seq, e.PrevHash = seq.Int64+1, genesisHash
	if prev.Valid {
		e.PrevHash = prev.String
	}
	e.Hash = auditHash(db.auditKey, &e)
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events
		(org_id, seq, at, actor, action, app_id, target, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.OrgID, e.Seq, ms(e.At), e.Actor, e.Action, e.AppID, e.Target, string(e.Details), e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("sqlite: audit append: %w", err)
	}
	// The head is kept apart from the entries: removing the newest entries
	// then shows as a chain shorter than its recorded head.
	_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, "audit_head:"+e.OrgID, []byte(strconv.FormatInt(e.Seq, 10)+":"+e.Hash))
	return err
}

// Audit records one action in its own transaction (for actions that change
// nothing else in the database, such as a read of sensitive data).
func (db *DB) Audit(ctx context.Context, e likeness.AuditEntry) error {
	return db.update(ctx, func(tx *sql.Tx) error { return db.auditTx(ctx, tx, e) })
}

// AuditEntries returns an organization's entries after seq afterSeq, oldest
// first, at most limit.
func (db *DB) AuditEntries(ctx context.Context, orgID string, afterSeq int64, limit int) ([]likeness.AuditEntry, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT org_id, seq, at, actor, action, app_id, target, details, prev_hash, hash
		FROM audit_events WHERE org_id = ? AND seq > ? ORDER BY seq LIMIT ?`, orgID, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit entries: %w", err)
	}
	defer rows.Close()
	var out []likeness.AuditEntry
	for rows.Next() {
		var e likeness.AuditEntry
		var at int64
		var details string
		if err := rows.Scan(&e.OrgID, &e.Seq, &at, &e.Actor, &e.Action, &e.AppID, &e.Target, &details, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("sqlite: audit entries: %w", err)
		}
		e.At, e.Details = fromMS(at), json.RawMessage(details)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditProblem is likeness.AuditProblem.
type AuditProblem = likeness.AuditProblem

// VerifyAudit checks every organization's chain (or only orgID's when set):
// consecutive sequence numbers, each entry's link to the previous hash, each
// entry's HMAC, and the recorded head. Any edited, deleted, inserted or
// reordered entry shows as a problem.
func (db *DB) VerifyAudit(ctx context.Context, orgID string) (entries int, problems []AuditProblem, err error) {
	q := `SELECT org_id, seq, at, actor, action, app_id, target, details, prev_hash, hash FROM audit_events`
	args := []any{}
	if orgID != "" {
		q += ` WHERE org_id = ?`
		args = append(args, orgID)
	}
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY org_id, seq`, args...)
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: audit verify: %w", err)
	}
	type head struct {
		seq  int64
		hash string
	}
	last := map[string]head{}
	for rows.Next() {
		var e likeness.AuditEntry
		var at int64
		var details string
		if err := rows.Scan(&e.OrgID, &e.Seq, &at, &e.Actor, &e.Action, &e.AppID, &e.Target, &details, &e.PrevHash, &e.Hash); err != nil {
			rows.Close()
			return 0, nil, fmt.Errorf("sqlite: audit verify: %w", err)
		}
		entries++
		e.At, e.Details = fromMS(at), json.RawMessage(details)
		prev, seen := last[e.OrgID]
		wantPrev := genesisHash
		if seen {
			wantPrev = prev.hash
		}
		switch {
		case e.Seq != prev.seq+1:
			problems = append(problems, AuditProblem{OrgID: e.OrgID, Seq: e.Seq, Problem: fmt.Sprintf("entry %d follows %d: entries are missing or reordered", e.Seq, prev.seq)})
		case e.PrevHash != wantPrev:
			problems = append(problems, AuditProblem{OrgID: e.OrgID, Seq: e.Seq, Problem: "the link to the previous entry is broken"})
		}
		if !hmac.Equal([]byte(auditHash(db.auditKey, &e)), []byte(e.Hash)) {
			problems = append(problems, AuditProblem{OrgID: e.OrgID, Seq: e.Seq, Problem: "the entry was modified"})
		}
		last[e.OrgID] = head{e.Seq, e.Hash}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	// Compare each chain's end with its recorded head.
	hq := `SELECT key, value FROM meta WHERE key LIKE 'audit_head:%'`
	hrows, err := db.r.QueryContext(ctx, hq)
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: audit heads: %w", err)
	}
	defer hrows.Close()
	for hrows.Next() {
		var k string
		var v []byte
		if err := hrows.Scan(&k, &v); err != nil {
			return 0, nil, err
		}
		org := strings.TrimPrefix(k, "audit_head:")
		if orgID != "" && org != orgID {
			continue
		}
		seqStr, hash, _ := strings.Cut(string(v), ":")
		seq, _ := strconv.ParseInt(seqStr, 10, 64)
		if got := last[org]; got.seq != seq || got.hash != hash {
			problems = append(problems, AuditProblem{OrgID: org, Seq: got.seq, Problem: fmt.Sprintf("the chain ends at entry %d but %d entries were recorded: entries were removed", got.seq, seq)})
		}
	}
	return entries, problems, hrows.Err()
}
