package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/likeness/likeness"
)

// Settings returns the application's security policy (the defaults for any
// field never set).
func (db *DB) Settings(ctx context.Context, appID string) (*likeness.Settings, error) {
	var raw string
	err := db.r.QueryRowContext(ctx, `SELECT settings FROM applications WHERE id = ?`, appID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: settings: %w", err)
	}
	s := likeness.DefaultSettings()
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, fmt.Errorf("sqlite: settings of %s: %w", appID, err)
	}
	return &s, nil
}

// UpdateSettings validates and stores the application's security policy, and
// audits the change.
func (db *DB) UpdateSettings(ctx context.Context, appID string, s likeness.Settings) (*likeness.Settings, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE applications SET settings = ? WHERE id = ?`, string(raw), appID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
		}
		return db.auditTx(ctx, tx, likeness.AuditEntry{Action: "settings.updated", AppID: appID, Details: raw})
	})
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// UpdateOrigins replaces the application's allowed origins (normalised) and
// audits the change. EINVALID for a bad origin.
func (db *DB) UpdateOrigins(ctx context.Context, appID string, origins []string) (*likeness.Application, error) {
	norm, err := normalizeOrigins(origins)
	if err != nil {
		return nil, err
	}
	raw, _ := json.Marshal(norm)
	err = db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE applications SET origins = ? WHERE id = ?`, string(raw), appID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
		}
		return db.auditTx(ctx, tx, likeness.AuditEntry{Action: "origins.updated", AppID: appID, Details: raw})
	})
	if err != nil {
		return nil, err
	}
	return db.AppByID(ctx, appID)
}

// RenameApp changes an application's display name and audits it.
func (db *DB) RenameApp(ctx context.Context, appID, name string) (*likeness.Application, error) {
	n, err := checkAppName(name)
	if err != nil {
		return nil, err
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE applications SET name = ? WHERE id = ?`, n, appID)
		if err != nil {
			return err
		}
		if c, _ := res.RowsAffected(); c == 0 {
			return likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
		}
		raw, _ := json.Marshal(map[string]string{"name": n})
		return db.auditTx(ctx, tx, likeness.AuditEntry{Action: "application.renamed", AppID: appID, Details: raw})
	})
	if err != nil {
		return nil, err
	}
	return db.AppByID(ctx, appID)
}

// Lockout returns until when a Facial ID is locked after failed
// authentications (zero when it is not).
func (db *DB) Lockout(ctx context.Context, appID, facialID string) (time.Time, error) {
	var until sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT locked_until FROM faces WHERE app_id = ? AND facial_id = ?`, appID, facialID).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, likeness.Errorf(likeness.ENOTFOUND, "Face not found.")
	}
	if err != nil || !until.Valid {
		return time.Time{}, err
	}
	return fromMS(until.Int64), nil
}

// RecordAuthFailure counts a failed authentication of a Facial ID (a wrong
// PIN) and locks it for lock when max failures are reached; it returns
// whether it is now locked. RecordAuthSuccess resets the count.
func (db *DB) RecordAuthFailure(ctx context.Context, appID, facialID string, max int, lock time.Duration) (bool, error) {
	locked := false
	err := db.update(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `UPDATE faces SET failed_auth = failed_auth + 1 WHERE app_id = ? AND facial_id = ?
			RETURNING failed_auth`, appID, facialID).Scan(&n); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return likeness.Errorf(likeness.ENOTFOUND, "Face not found.")
			}
			return err
		}
		if n < max {
			return nil
		}
		locked = true
		until := db.nowTime().Add(lock)
		if _, err := tx.ExecContext(ctx, `UPDATE faces SET failed_auth = 0, locked_until = ? WHERE facial_id = ?`, ms(until), facialID); err != nil {
			return err
		}
		raw, _ := json.Marshal(map[string]any{"until": until})
		return db.auditTx(ctx, tx, likeness.AuditEntry{Action: "facialid.locked", AppID: appID, Target: facialID, Details: raw})
	})
	return locked, err
}

// RecordAuthSuccess clears a Facial ID's failure count and lock.
func (db *DB) RecordAuthSuccess(ctx context.Context, appID, facialID string) error {
	return db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE faces SET failed_auth = 0, locked_until = NULL
			WHERE app_id = ? AND facial_id = ? AND (failed_auth > 0 OR locked_until IS NOT NULL)`, appID, facialID)
		return err
	})
}
