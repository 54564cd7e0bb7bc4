package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

// Throttle state bounds: at most maxThrottleKeys keys per purpose (past
// it, the states closest to expiry are dropped first), and expired states
// are deleted, purgeThrottleBatch at a time, whenever a key is added.
const (
	maxThrottleKeys    = 100_000
	purgeThrottleBatch = 500
)

var _ likeness.Throttles = (*DB)(nil)

// throttleMAC names a key of a purpose without storing it
// (crypt.ThrottleMAC).
func (db *DB) throttleMAC(purpose, key string) ([]byte, error) {
	return crypt.ThrottleMAC(db.master, purpose, key)
}

// RecordFailure counts one failure of key under rule at now in one write
// transaction (the database's write lock orders servers) and returns until
// when the key is blocked.
func (db *DB) RecordFailure(ctx context.Context, rule likeness.ThrottleRule, key string, now time.Time) (time.Time, error) {
	if err := rule.Validate(); err != nil {
		return time.Time{}, err
	}
	if key == "" {
		return time.Time{}, likeness.Errorf(likeness.EINVALID, "A throttle key is required.")
	}
	mac, err := db.throttleMAC(rule.Purpose, key)
	if err != nil {
		return time.Time{}, err
	}
	now = now.UTC().Truncate(time.Millisecond)
	var st likeness.ThrottleState
	err = db.update(ctx, func(tx *sql.Tx) error {
		var start, last, until, expires int64
		err := tx.QueryRowContext(ctx, `SELECT failures, start_at, last_at, until_at, expires_at FROM throttles
			WHERE purpose = ? AND key_mac = ?`, rule.Purpose, mac).Scan(&st.Count, &start, &last, &until, &expires)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := makeThrottleRoom(ctx, tx, rule.Purpose, now, maxThrottleKeys); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("sqlite: throttle: %w", err)
		default:
			st.Start, st.Last, st.Until, st.Expires = fromMSZero(start), fromMSZero(last), fromMSZero(until), fromMSZero(expires)
		}
		st = rule.Fail(st, now)
		_, err = tx.ExecContext(ctx, `INSERT INTO throttles (purpose, key_mac, failures, start_at, last_at, until_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (purpose, key_mac) DO UPDATE SET failures = excluded.failures, start_at = excluded.start_at,
				last_at = excluded.last_at, until_at = excluded.until_at, expires_at = excluded.expires_at`,
			rule.Purpose, mac, st.Count, msZero(st.Start), msZero(st.Last), msZero(st.Until), msZero(st.Expires))
		if err != nil {
			return fmt.Errorf("sqlite: throttle: %w", err)
		}
		return nil
	})
	return st.Until, err
}

// makeThrottleRoom deletes expired states and, when purpose holds limit
// keys still, those closest to expiry, leaving room for one more.
func makeThrottleRoom(ctx context.Context, tx *sql.Tx, purpose string, now time.Time, limit int) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM throttles WHERE id IN
		(SELECT id FROM throttles WHERE expires_at <= ? LIMIT ?)`, ms(now), purgeThrottleBatch); err != nil {
		return fmt.Errorf("sqlite: throttle purge: %w", err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM throttles WHERE purpose = ?`, purpose).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: throttle count: %w", err)
	}
	if n < limit {
		return nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM throttles WHERE id IN
		(SELECT id FROM throttles WHERE purpose = ? ORDER BY expires_at LIMIT ?)`, purpose, n-limit+1)
	if err != nil {
		return fmt.Errorf("sqlite: throttle bound: %w", err)
	}
	return nil
}

// BlockedUntil returns until when key is blocked for purpose.
func (db *DB) BlockedUntil(ctx context.Context, purpose, key string) (time.Time, error) {
	mac, err := db.throttleMAC(purpose, key)
	if err != nil {
		return time.Time{}, err
	}
	var until int64
	err = db.r.QueryRowContext(ctx, `SELECT until_at FROM throttles WHERE purpose = ? AND key_mac = ?`, purpose, mac).Scan(&until)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("sqlite: throttle: %w", err)
	}
	return fromMSZero(until), nil
}

// ForgetFailures deletes key's state for purpose.
func (db *DB) ForgetFailures(ctx context.Context, purpose, key string) error {
	mac, err := db.throttleMAC(purpose, key)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM throttles WHERE purpose = ? AND key_mac = ?`, purpose, mac)
		return err
	})
}

// msZero is ms with the zero time as 0.
func msZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

// fromMSZero is fromMS with 0 as the zero time.
func fromMSZero(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMS(v)
}
