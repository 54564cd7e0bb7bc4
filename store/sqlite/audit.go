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
	"slices"
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

// auditMAC is the HMAC, under the audit key, of a kind of record and its
// fields, length-prefixed like auditHash.
func auditMAC(key []byte, kind string, fields ...string) string {
	m := hmac.New(sha256.New, key)
	for _, f := range append([]string{kind}, fields...) {
		m.Write([]byte(strconv.Itoa(len(f)) + ":" + f))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// auditHead is an organization's recorded chain end: its last entry's
// sequence number and hash, and a MAC binding both to the organization, so
// that someone who deletes the newest entries cannot rewrite the head to
// match without the master key.
type auditHead struct {
	seq  int64
	hash string
}

func (db *DB) headValue(org string, h auditHead) []byte {
	seq := strconv.FormatInt(h.seq, 10)
	return []byte(seq + ":" + h.hash + ":" + auditMAC(db.auditKey, "audit-head", org, seq, h.hash))
}

// parseHead reads a recorded head; ok is false when its MAC is wrong or
// missing (a head written or edited without the audit key).
func (db *DB) parseHead(org string, v []byte) (h auditHead, ok bool) {
	parts := strings.Split(string(v), ":")
	if len(parts) != 3 {
		return h, false
	}
	seq, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return h, false
	}
	want := auditMAC(db.auditKey, "audit-head", org, parts[0], parts[1])
	return auditHead{seq, parts[1]}, hmac.Equal([]byte(want), []byte(parts[2]))
}

// auditCheckpoint counts every entry of every chain and names the newest
// one, under a MAC: deleting whole chains (heads included), or every entry,
// leaves a checkpoint that no longer matches.
type auditCheckpoint struct {
	total int64
	org   string
	last  auditHead
}

const checkpointKey = "audit_checkpoint"

func (db *DB) checkpointValue(c auditCheckpoint) []byte {
	total, seq := strconv.FormatInt(c.total, 10), strconv.FormatInt(c.last.seq, 10)
	mac := auditMAC(db.auditKey, "audit-checkpoint", total, c.org, seq, c.last.hash)
	b, _ := json.Marshal([]string{total, c.org, seq, c.last.hash, mac})
	return b
}

// readCheckpoint returns the recorded checkpoint; found is false when there
// is none, ok false when its MAC is wrong.
func (db *DB) readCheckpoint(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (c auditCheckpoint, found, ok bool, err error) {
	var v []byte
	err = q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, checkpointKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, false, nil
	}
	if err != nil {
		return c, false, false, fmt.Errorf("sqlite: audit checkpoint: %w", err)
	}
	var f []string
	if json.Unmarshal(v, &f) != nil || len(f) != 5 {
		return c, true, false, nil
	}
	total, err1 := strconv.ParseInt(f[0], 10, 64)
	seq, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return c, true, false, nil
	}
	c = auditCheckpoint{total: total, org: f[1], last: auditHead{seq, f[3]}}
	want := auditMAC(db.auditKey, "audit-checkpoint", f[0], f[1], f[2], f[3])
	return c, true, hmac.Equal([]byte(want), []byte(f[4])), nil
}

// initAuditCheckpoint runs once, when migration 0010 asks for it: it MACs
// the heads recorded before heads were authenticated and records the first
// checkpoint. On a new database that is a checkpoint of no entries.
func (db *DB) initAuditCheckpoint(ctx context.Context) error {
	return db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM meta WHERE key = 'audit_checkpoint_init'`)
		if err != nil {
			return fmt.Errorf("sqlite: audit checkpoint: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		rows, err := tx.QueryContext(ctx, `SELECT e.org_id, e.seq, e.hash, c.total FROM audit_events e
			JOIN (SELECT org_id, max(seq) AS seq, count(*) AS total FROM audit_events GROUP BY org_id) c
			ON c.org_id = e.org_id AND c.seq = e.seq`)
		if err != nil {
			return fmt.Errorf("sqlite: audit checkpoint: %w", err)
		}
		var cp auditCheckpoint
		heads := map[string]auditHead{}
		for rows.Next() {
			var org string
			var h auditHead
			var n int64
			if err := rows.Scan(&org, &h.seq, &h.hash, &n); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: audit checkpoint: %w", err)
			}
			heads[org] = h
			cp.total += n
			cp.org, cp.last = org, h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for org, h := range heads {
			if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, "audit_head:"+org, db.headValue(org, h)); err != nil {
				return fmt.Errorf("sqlite: audit checkpoint: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, "audit_trail_since", []byte(strconv.FormatInt(ms(db.nowTime()), 10))); err != nil {
			return fmt.Errorf("sqlite: audit checkpoint: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, checkpointKey, db.checkpointValue(cp))
		return err
	})
}

// auditTx appends an entry to the organization's chain inside tx, so the
// change and its audit entry commit together. OrgID may be empty when AppID
// is set; Actor defaults to likeness.ActorFrom(ctx); At to now.
func (db *DB) auditTx(ctx context.Context, tx *sql.Tx, e likeness.AuditEntry) error {
	if e.OrgID == "" && e.AppID != "" {
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
	// The head is kept apart from the entries, under a MAC: removing the
	// newest entries then shows as a chain shorter than its recorded head.
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, "audit_head:"+e.OrgID, db.headValue(e.OrgID, auditHead{e.Seq, e.Hash})); err != nil {
		return fmt.Errorf("sqlite: audit head: %w", err)
	}
	// The checkpoint moves on only from a checkpoint with a valid MAC: a
	// missing or forged one stays so, and audit verify reports it, rather
	// than the store signing whatever it finds.
	cp, found, ok, err := db.readCheckpoint(ctx, tx)
	if err != nil || !found || !ok {
		return err
	}
	cp.total++
	cp.org, cp.last = e.OrgID, auditHead{e.Seq, e.Hash}
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = ?`, db.checkpointValue(cp), checkpointKey); err != nil {
		return fmt.Errorf("sqlite: audit checkpoint: %w", err)
	}
	return nil
}

// Audit records one action in its own transaction (for actions that change
// nothing else in the database, such as a read of sensitive data).
func (db *DB) Audit(ctx context.Context, e likeness.AuditEntry) error {
	return db.update(ctx, func(tx *sql.Tx) error { return db.auditTx(ctx, tx, e) })
}

// AuditEntries returns an organization's entries after seq afterSeq, oldest
// first, at most limit.
func (db *DB) AuditEntries(ctx context.Context, orgID string, afterSeq int64, limit int) ([]likeness.AuditEntry, error) {
	return db.auditRows(ctx, nil, `WHERE org_id = ? AND seq > ? ORDER BY seq LIMIT ?`, orgID, afterSeq, limit)
}

// auditRows appends to out the audit entries the clause (WHERE … ORDER BY
// … LIMIT …) selects.
func (db *DB) auditRows(ctx context.Context, out []likeness.AuditEntry, clause string, args ...any) ([]likeness.AuditEntry, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT org_id, seq, at, actor, action, app_id, target, details, prev_hash, hash
		FROM audit_events `+clause, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit entries: %w", err)
	}
	defer rows.Close()
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

// maxAuditSearch bounds AuditSearch's Limit (an export reads this many).
const maxAuditSearch = 10000

// AuditSearch returns an organization's entries that match f, newest first.
// EINVALID for a Limit out of range.
func (db *DB) AuditSearch(ctx context.Context, orgID string, f likeness.AuditFilter) ([]likeness.AuditEntry, error) {
	if f.Limit == 0 {
		f.Limit = 100
	}
	if f.Limit < 1 || f.Limit > maxAuditSearch {
		return nil, likeness.Errorf(likeness.EINVALID, "limit must be 1 to %d.", maxAuditSearch)
	}
	q := `WHERE org_id = ?`
	args := []any{orgID}
	if f.Action != "" {
		q += ` AND action = ?`
		args = append(args, f.Action)
	}
	if slices.Contains(likeness.AuditActorKinds, f.Actor) {
		q += ` AND substr(actor, 1, ?) = ?` // a kind: a prefix without LIKE's wildcards
		args = append(args, len(f.Actor), f.Actor)
	} else if f.Actor != "" {
		q += ` AND actor = ?`
		args = append(args, f.Actor)
	}
	if !f.From.IsZero() {
		q += ` AND at >= ?`
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND at < ?`
		args = append(args, ms(f.To))
	}
	if f.BeforeSeq > 0 {
		q += ` AND seq < ?`
		args = append(args, f.BeforeSeq)
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, f.Limit)
	return db.auditRows(ctx, []likeness.AuditEntry{}, q, args...)
}

// AuditActions returns the actions an organization's trail holds, sorted.
func (db *DB) AuditActions(ctx context.Context, orgID string) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT DISTINCT action FROM audit_events WHERE org_id = ? ORDER BY action`, orgID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit actions: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("sqlite: audit actions: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AuditProblem is likeness.AuditProblem.
type AuditProblem = likeness.AuditProblem

// VerifyAudit checks every organization's chain (or only orgID's when set):
// consecutive sequence numbers, each entry's link to the previous hash, each
// entry's HMAC, the recorded head (and its MAC), that every organization
// and every application has a trail, and — for the whole database — the
// checkpoint (the number of entries and the newest, under a MAC). Any
// edited, deleted, inserted or reordered entry shows as a problem, and so
// does the deletion of the newest entries with their head rewritten, or of
// every entry. It reads one consistent snapshot.
func (db *DB) VerifyAudit(ctx context.Context, orgID string) (entries int, problems []AuditProblem, err error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: audit verify: %w", err)
	}
	defer tx.Rollback()
	q := `SELECT org_id, seq, at, actor, action, app_id, target, details, prev_hash, hash FROM audit_events`
	args := []any{}
	if orgID != "" {
		q += ` WHERE org_id = ?`
		args = append(args, orgID)
	}
	rows, err := tx.QueryContext(ctx, q+` ORDER BY org_id, seq`, args...)
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: audit verify: %w", err)
	}
	last := map[string]auditHead{}
	hashes := map[string]string{} // "org\x00seq" → hash, for the checkpoint
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
		last[e.OrgID] = auditHead{e.Seq, e.Hash}
		hashes[e.OrgID+"\x00"+strconv.FormatInt(e.Seq, 10)] = e.Hash
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	// Compare each chain's end with its recorded head.
	hrows, err := tx.QueryContext(ctx, `SELECT key, value FROM meta WHERE key LIKE 'audit_head:%'`)
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: audit heads: %w", err)
	}
	headed := map[string]bool{}
	for hrows.Next() {
		var k string
		var v []byte
		if err := hrows.Scan(&k, &v); err != nil {
			hrows.Close()
			return 0, nil, err
		}
		org := strings.TrimPrefix(k, "audit_head:")
		if orgID != "" && org != orgID {
			continue
		}
		headed[org] = true
		h, ok := db.parseHead(org, v)
		got := last[org]
		switch {
		case !ok:
			problems = append(problems, AuditProblem{OrgID: org, Seq: got.seq, Problem: "the recorded head of the chain was altered: entries may have been removed"})
		case got.seq != h.seq || got.hash != h.hash:
			problems = append(problems, AuditProblem{OrgID: org, Seq: got.seq, Problem: fmt.Sprintf("the chain ends at entry %d but %d entries were recorded: entries were removed", got.seq, h.seq)})
		}
	}
	hrows.Close()
	if err := hrows.Err(); err != nil {
		return 0, nil, err
	}
	// Every organization, and every application without one, made since
	// trails were checkpointed was created with an audited action: a trail
	// with no head lost every entry.
	var since int64
	var sinceText []byte
	if err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'audit_trail_since'`).Scan(&sinceText); err == nil {
		since, _ = strconv.ParseInt(string(sinceText), 10, 64)
	}
	orows, err := tx.QueryContext(ctx, `SELECT id FROM organizations WHERE created_at >= ?
		UNION SELECT coalesce(org_id, '') FROM applications WHERE created_at >= ?`, since, since)
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: audit verify: %w", err)
	}
	for orows.Next() {
		var org string
		if err := orows.Scan(&org); err != nil {
			orows.Close()
			return 0, nil, err
		}
		if (orgID == "" || org == orgID) && !headed[org] {
			problems = append(problems, AuditProblem{OrgID: org, Problem: "the organization has no audit trail: every entry was removed"})
		}
	}
	orows.Close()
	if err := orows.Err(); err != nil {
		return 0, nil, err
	}
	if orgID == "" {
		problems = append(problems, db.checkCheckpoint(ctx, tx, entries, hashes)...)
	}
	return entries, problems, nil
}

// checkCheckpoint compares the recorded checkpoint with the entries found.
func (db *DB) checkCheckpoint(ctx context.Context, tx *sql.Tx, entries int, hashes map[string]string) []AuditProblem {
	cp, found, ok, err := db.readCheckpoint(ctx, tx)
	switch {
	case err != nil:
		return []AuditProblem{{Problem: "the checkpoint could not be read"}}
	case !found:
		return []AuditProblem{{Problem: "the audit checkpoint is missing: entries may have been removed"}}
	case !ok:
		return []AuditProblem{{Problem: "the audit checkpoint was altered"}}
	case cp.total != int64(entries):
		return []AuditProblem{{Problem: fmt.Sprintf("the checkpoint counts %d entries but %d remain: entries were removed", cp.total, entries)}}
	case cp.total > 0 && hashes[cp.org+"\x00"+strconv.FormatInt(cp.last.seq, 10)] != cp.last.hash:
		return []AuditProblem{{OrgID: cp.org, Seq: cp.last.seq, Problem: "the newest entry of the checkpoint is gone or changed"}}
	}
	return nil
}

// AuditCheckpoint returns the recorded checkpoint: the number of entries in
// every chain and the newest entry's hash, to keep outside the server and
// compare later. found is false when there is none; ok false when its MAC
// is wrong.
func (db *DB) AuditCheckpoint(ctx context.Context) (total int64, hash string, ok bool, err error) {
	cp, found, ok, err := db.readCheckpoint(ctx, db.r)
	if err != nil || !found {
		return 0, "", false, err
	}
	return cp.total, cp.last.hash, ok, nil
}
