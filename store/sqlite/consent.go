package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/likeness/likeness"
)

// LatestNotice returns the highest version of the application's notice for a
// base locale. ENOTFOUND when there is none.
func (db *DB) LatestNotice(ctx context.Context, appID, locale string) (*likeness.Notice, error) {
	var (
		n       likeness.Notice
		created int64
	)
	err := db.r.QueryRowContext(ctx, `SELECT app_id, version, locale, title, text, sha256, created_at
		FROM notices WHERE app_id = ? AND locale = ? ORDER BY version DESC LIMIT 1`, appID, locale).
		Scan(&n.AppID, &n.Version, &n.Locale, &n.Title, &n.Text, &n.SHA256, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "Notice not found.")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: notice: %w", err)
	}
	n.CreatedAt = fromMS(created)
	return &n, nil
}

// CreateNotice stores a notice version; n.CreatedAt is truncated to the
// stored precision. ECONFLICT when that version exists, ENOTFOUND when the
// application does not.
func (db *DB) CreateNotice(ctx context.Context, n *likeness.Notice) error {
	n.CreatedAt = n.CreatedAt.UTC().Truncate(time.Millisecond)
	err := db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO notices (app_id, locale, version, title, text, sha256, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, n.AppID, n.Locale, n.Version, n.Title, n.Text, n.SHA256, ms(n.CreatedAt))
		return err
	})
	switch {
	case isUniqueViolation(err):
		return likeness.Errorf(likeness.ECONFLICT, "This notice version exists.")
	case isForeignKeyViolation(err):
		return likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
	case err != nil:
		return fmt.Errorf("sqlite: insert notice: %w", err)
	}
	return nil
}

// CreateConsentRecord stores a consent record; rec.CreatedAt is truncated to
// the stored precision. ENOTFOUND when the application does not exist,
// ECONFLICT when the ID is taken.
func (db *DB) CreateConsentRecord(ctx context.Context, rec *likeness.ConsentRecord) error {
	rec.CreatedAt = rec.CreatedAt.UTC().Truncate(time.Millisecond)
	err := db.update(ctx, func(tx *sql.Tx) error {
		var obtained sql.NullInt64
		if rec.ObtainedAt != nil {
			obtained = sql.NullInt64{Int64: ms(*rec.ObtainedAt), Valid: true}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO consent_records
			(id, app_id, kind, notice_version, notice_sha256, locale, session_id, method, obtained_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.ID, rec.AppID, rec.Kind, rec.NoticeVersion, rec.NoticeSHA256, rec.Locale, rec.SessionID,
			rec.Method, obtained, ms(rec.CreatedAt))
		if err != nil {
			return err
		}
		if err := db.auditTx(ctx, tx, likeness.AuditEntry{Action: likeness.EventConsentRecorded, AppID: rec.AppID,
			Target: rec.ID, Details: json.RawMessage(`{"kind":` + strconv.Quote(rec.Kind) + `}`)}); err != nil {
			return err
		}
		if err := db.emitTx(ctx, tx, likeness.Event{Type: likeness.EventConsentRecorded, AppID: rec.AppID,
			ConsentID: rec.ID, OccurredAt: rec.CreatedAt}); err != nil {
			return err
		}
		if !rec.Pending {
			return nil
		}
		// Held until the enrollment commits (releaseConsentEventTx) or is
		// given up (DiscardConsentRecord).
		_, err = tx.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = ?
			WHERE event_id IN (SELECT id FROM webhook_events WHERE app_id = ? AND consent_id = ? AND type = ?)`,
			ms(rec.CreatedAt.Add(ConsentHold)), rec.AppID, rec.ID, likeness.EventConsentRecorded)
		return err
	})
	switch {
	case isUniqueViolation(err):
		return likeness.Errorf(likeness.ECONFLICT, "This consent record exists.")
	case isForeignKeyViolation(err):
		return likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
	case err != nil:
		return fmt.Errorf("sqlite: insert consent record: %w", err)
	}
	return nil
}

// ConsentRecord returns one of the application's consent records. ENOTFOUND
// when the application has no such record.
func (db *DB) ConsentRecord(ctx context.Context, appID, id string) (*likeness.ConsentRecord, error) {
	var (
		rec     likeness.ConsentRecord
		created int64
	)
	var obtained sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT id, app_id, kind, notice_version, notice_sha256, locale, session_id,
		method, obtained_at, created_at FROM consent_records WHERE id = ? AND app_id = ?`, id, appID).
		Scan(&rec.ID, &rec.AppID, &rec.Kind, &rec.NoticeVersion, &rec.NoticeSHA256, &rec.Locale, &rec.SessionID,
			&rec.Method, &obtained, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "Consent record not found.")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: consent record: %w", err)
	}
	rec.CreatedAt, rec.ObtainedAt = fromMS(created), nullTime(obtained)
	return &rec, nil
}

// ConsentHold is how long the consent.recorded webhook of a pending consent
// record waits for its enrollment: longer than a widget session can last
// (a 10-minute consent screen, then the capture).
const ConsentHold = 30 * time.Minute

// releaseConsentEventTx makes the held consent.recorded webhook of the
// record an enrollment uses due now, in the enrollment's transaction.
func (db *DB) releaseConsentEventTx(ctx context.Context, tx *sql.Tx, appID, consentID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = ?
		WHERE status = 'pending' AND attempts = 0 AND next_attempt_at > ?
		AND event_id IN (SELECT id FROM webhook_events WHERE app_id = ? AND consent_id = ? AND type = ?)`,
		ms(db.nowTime()), ms(db.nowTime()), appID, consentID, likeness.EventConsentRecorded)
	if err != nil {
		return fmt.Errorf("sqlite: release consent event: %w", err)
	}
	return nil
}

// DiscardConsentRecord removes a consent record that no enrollment used —
// the enrollment it was made for failed or was abandoned — with its
// consent.recorded event, in one transaction, and audits consent.discarded
// (the audit trail keeps that consent was given). A record a Facial ID
// links to is kept: it returns nil and changes nothing. It needs no new
// space on a full disk (eraseLocked).
func (db *DB) DiscardConsentRecord(ctx context.Context, appID, id string) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	return db.eraseLocked(ctx, func(tx *sql.Tx) error {
		var used int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM faces WHERE app_id = ? AND consent_id = ?`, appID, id).Scan(&used); err != nil {
			return fmt.Errorf("sqlite: discard consent: %w", err)
		}
		if used > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE app_id = ? AND consent_id = ? AND type = ?`,
			appID, id, likeness.EventConsentRecorded); err != nil {
			return fmt.Errorf("sqlite: discard consent: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM consent_records WHERE app_id = ? AND id = ?`, appID, id)
		if err != nil {
			return fmt.Errorf("sqlite: discard consent: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return db.auditTx(ctx, tx, likeness.AuditEntry{Action: "consent.discarded", AppID: appID, Target: id})
	})
}
