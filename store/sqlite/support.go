package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/likeness/likeness"
)

// SetOperator makes a console account an operator of the server (or not).
// ENOTFOUND when there is no such account.
func (db *DB) SetOperator(ctx context.Context, userID string, operator bool) error {
	return db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE console_users SET operator = ? WHERE id = ?`, operator, userID)
		if err != nil {
			return fmt.Errorf("sqlite: set operator: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errUserNotFound()
		}
		return nil
	})
}

const grantQuery = `SELECT g.id, g.org_id, o.name, g.granted_by, coalesce(u.email, ''), g.created_at, g.expires_at, g.revoked_at
	FROM support_grants g JOIN organizations o ON o.id = g.org_id LEFT JOIN console_users u ON u.id = g.granted_by`

func (db *DB) grants(ctx context.Context, where string, args ...any) ([]*likeness.SupportGrant, error) {
	rows, err := db.r.QueryContext(ctx, grantQuery+` WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: support grants: %w", err)
	}
	defer rows.Close()
	out := []*likeness.SupportGrant{}
	for rows.Next() {
		var (
			g                likeness.SupportGrant
			created, expires int64
			revoked          sql.NullInt64
		)
		if err := rows.Scan(&g.ID, &g.OrgID, &g.OrgName, &g.GrantedBy, &g.GrantedEmail, &created, &expires, &revoked); err != nil {
			return nil, err
		}
		g.CreatedAt, g.ExpiresAt, g.RevokedAt = fromMS(created), fromMS(expires), nullTime(revoked)
		out = append(out, &g)
	}
	return out, rows.Err()
}

// GrantSupport lets operators read the organization's console pages for d
// (1 hour to 7 days), audited. EINVALID for another duration.
func (db *DB) GrantSupport(ctx context.Context, orgID, userID string, d time.Duration) (*likeness.SupportGrant, error) {
	if err := likeness.CheckSupportDuration(d); err != nil {
		return nil, err
	}
	now := db.nowTime()
	g := &likeness.SupportGrant{ID: "sup_" + randomBase62(publicIDLen), OrgID: orgID, GrantedBy: userID,
		CreatedAt: now, ExpiresAt: now.Add(d)}
	err := db.update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO support_grants (id, org_id, granted_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?)`, g.ID, orgID, userID, ms(now), ms(g.ExpiresAt)); err != nil {
			if isForeignKeyViolation(err) {
				return errOrgNotFound
			}
			return fmt.Errorf("sqlite: grant support: %w", err)
		}
		raw, _ := json.Marshal(map[string]any{"expiresAt": g.ExpiresAt})
		return db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: orgID, Action: "support.granted", Target: g.ID, Details: raw})
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// RevokeSupport ends a grant at once, audited. ENOTFOUND when the
// organization has no such grant still running.
func (db *DB) RevokeSupport(ctx context.Context, orgID, grantID, userID string) error {
	return db.update(ctx, func(tx *sql.Tx) error {
		now := ms(db.nowTime())
		res, err := tx.ExecContext(ctx, `UPDATE support_grants SET revoked_at = ?, revoked_by = ?
			WHERE id = ? AND org_id = ? AND revoked_at IS NULL AND expires_at > ?`, now, userID, grantID, orgID, now)
		if err != nil {
			return fmt.Errorf("sqlite: revoke support: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return likeness.Errorf(likeness.ENOTFOUND, "No such support access is running.")
		}
		return db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: orgID, Action: "support.revoked", Target: grantID})
	})
}

// SupportGrants returns the organization's grants, newest first.
func (db *DB) SupportGrants(ctx context.Context, orgID string) ([]*likeness.SupportGrant, error) {
	return db.grants(ctx, `g.org_id = ? ORDER BY g.created_at DESC, g.id`, orgID)
}

// ActiveSupportGrant returns the organization's grant running now, or
// ENOTFOUND. A deleted organization has none.
func (db *DB) ActiveSupportGrant(ctx context.Context, orgID string) (*likeness.SupportGrant, error) {
	now := ms(db.nowTime())
	gs, err := db.grants(ctx, `g.org_id = ? AND g.revoked_at IS NULL AND g.created_at <= ? AND g.expires_at > ?
		AND o.deleted_at IS NULL
		ORDER BY g.expires_at DESC LIMIT 1`, orgID, now, now)
	if err != nil {
		return nil, err
	}
	if len(gs) == 0 {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "Organization not found.")
	}
	return gs[0], nil
}

// SupportOrgs returns the organizations that grant support access now, by
// name, for the operators' list.
func (db *DB) SupportOrgs(ctx context.Context) ([]*likeness.SupportGrant, error) {
	now := ms(db.nowTime())
	return db.grants(ctx, `g.revoked_at IS NULL AND g.created_at <= ? AND g.expires_at > ?
		AND o.deleted_at IS NULL ORDER BY o.name, g.org_id, g.expires_at DESC`, now, now)
}
