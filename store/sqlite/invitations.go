package sqlite

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/likeness/likeness"
)

const invitationIDPrefix = "inv_"

// tokenHash is the stored form of an invitation link's secret.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func errInvitationNotFound() error {
	return likeness.Errorf(likeness.ENOTFOUND, "This invitation does not exist, was withdrawn or has expired.")
}

// CreateInvitation invites email to the organization with a role, valid
// for ttl, and returns it with the link's secret (32 random bytes,
// base64url; only its SHA-256 is stored). It never looks up whether an
// account has the email, so its reply is the same either way. A pending
// invitation of the same email is replaced. EINVALID for a bad email or
// role. Audited (invitation.created).
func (db *DB) CreateInvitation(ctx context.Context, orgID, email, role, invitedBy string, ttl time.Duration) (*likeness.Invitation, string, error) {
	if err := checkRole(role); err != nil {
		return nil, "", err
	}
	e, err := normEmail(email)
	if err != nil {
		return nil, "", err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, "", err
	}
	token := base64.RawURLEncoding.EncodeToString(secret)
	now := db.nowTime()
	inv := &likeness.Invitation{ID: invitationIDPrefix + randomBase62(publicIDLen), Org: likeness.Organization{ID: orgID},
		Email: e, Role: role, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err = db.update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM org_invitations WHERE org_id = ? AND (email = ? OR expires_at <= ?)`,
			orgID, e, ms(now)); err != nil {
			return fmt.Errorf("sqlite: replace invitation: %w", err)
		}
		var by sql.NullString
		if invitedBy != "" {
			by = sql.NullString{String: invitedBy, Valid: true}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO org_invitations (id, org_id, email, role, token_hash, invited_by,
			created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			inv.ID, orgID, e, role, tokenHash(token), by, ms(now), ms(inv.ExpiresAt))
		if isForeignKeyViolation(err) {
			return likeness.Errorf(likeness.ENOTFOUND, "Organization not found.")
		}
		if err != nil {
			return fmt.Errorf("sqlite: insert invitation: %w", err)
		}
		return db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: orgID, Action: "invitation.created", Target: inv.ID,
			Details: detailsJSON(map[string]any{"email": e, "role": role})})
	})
	if err != nil {
		return nil, "", err
	}
	return inv, token, nil
}

const invitationColumns = `i.id, i.org_id, o.name, o.created_at, i.email, i.role, coalesce(u.email, ''), i.created_at, i.expires_at`

const invitationFrom = ` FROM org_invitations i JOIN organizations o ON o.id = i.org_id
	LEFT JOIN console_users u ON u.id = i.invited_by`

func scanInvitation(row interface{ Scan(...any) error }) (*likeness.Invitation, error) {
	var (
		inv                      likeness.Invitation
		orgCreated, created, exp int64
	)
	if err := row.Scan(&inv.ID, &inv.Org.ID, &inv.Org.Name, &orgCreated, &inv.Email, &inv.Role, &inv.InvitedBy,
		&created, &exp); err != nil {
		return nil, err
	}
	inv.Org.CreatedAt, inv.CreatedAt, inv.ExpiresAt = fromMS(orgCreated), fromMS(created), fromMS(exp)
	return &inv, nil
}

// Invitations lists the organization's pending invitations, newest first.
func (db *DB) Invitations(ctx context.Context, orgID string) ([]*likeness.Invitation, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+invitationColumns+invitationFrom+`
		WHERE i.org_id = ? AND i.expires_at > ? ORDER BY i.created_at DESC, i.id`, orgID, ms(db.nowTime()))
	if err != nil {
		return nil, fmt.Errorf("sqlite: invitations: %w", err)
	}
	defer rows.Close()
	var out []*likeness.Invitation
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: invitations: %w", err)
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// InvitationByToken returns the pending invitation of a link's secret.
// ENOTFOUND for an unknown, withdrawn, accepted or expired one.
func (db *DB) InvitationByToken(ctx context.Context, token string) (*likeness.Invitation, error) {
	return invitationByToken(ctx, db.r, token, db.nowTime())
}

func invitationByToken(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, token string, now time.Time) (*likeness.Invitation, error) {
	inv, err := scanInvitation(q.QueryRowContext(ctx, `SELECT `+invitationColumns+invitationFrom+`
		WHERE i.token_hash = ? AND i.expires_at > ?`, tokenHash(token), ms(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errInvitationNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: invitation: %w", err)
	}
	return inv, nil
}

// AcceptInvitation makes the signed-in account a member as the invitation
// says, and deletes the invitation, in one transaction. ENOTFOUND for an
// unknown or expired invitation, EFORBIDDEN when the account's email is not
// the invited one, ECONFLICT when it is a member already (the invitation is
// then deleted too).
func (db *DB) AcceptInvitation(ctx context.Context, token, userID string) (*likeness.Membership, error) {
	u, err := db.User(ctx, userID)
	if err != nil {
		return nil, err
	}
	var inv *likeness.Invitation
	err = db.update(ctx, func(tx *sql.Tx) error {
		var err error
		if inv, err = invitationByToken(ctx, tx, token, db.nowTime()); err != nil {
			return err
		}
		if inv.Email != u.Email {
			return likeness.Errorf(likeness.EFORBIDDEN, "This invitation is for another email address. Sign in with the invited one.")
		}
		return db.acceptTx(ctx, tx, inv, u)
	})
	if likeness.ErrorCode(err) == likeness.ECONFLICT && inv != nil {
		_ = db.update(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM org_invitations WHERE id = ?`, inv.ID)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return db.Membership(ctx, inv.Org.ID, u.ID)
}

// AcceptInvitationNewAccount makes an account with the invited email (it
// need not change its password: the person chose it) and makes it a member,
// in one transaction. ENOTFOUND for an unknown or expired invitation,
// ECONFLICT when an account has the email (sign in to accept instead).
func (db *DB) AcceptInvitationNewAccount(ctx context.Context, token, passwordHash string) (*likeness.User, *likeness.Membership, error) {
	if passwordHash == "" {
		return nil, nil, likeness.Errorf(likeness.EINVALID, "A password is required.")
	}
	var u *likeness.User
	var inv *likeness.Invitation
	err := db.update(ctx, func(tx *sql.Tx) error {
		var err error
		if inv, err = invitationByToken(ctx, tx, token, db.nowTime()); err != nil {
			return err
		}
		u = &likeness.User{ID: userIDPrefix + randomBase62(publicIDLen), Email: inv.Email, PasswordHash: passwordHash,
			SessionVersion: 1, CreatedAt: db.nowTime()}
		if err := insertUser(ctx, tx, u); err != nil {
			return err
		}
		return db.acceptTx(likeness.WithActor(ctx, "console:"+u.ID), tx, inv, u)
	})
	if err != nil {
		return nil, nil, err
	}
	m, err := db.Membership(ctx, inv.Org.ID, u.ID)
	return u, m, err
}

// acceptTx adds the membership (audited as member.added) and deletes the
// invitation.
func (db *DB) acceptTx(ctx context.Context, tx *sql.Tx, inv *likeness.Invitation, u *likeness.User) error {
	if err := db.insertMemberTx(ctx, tx, &likeness.Membership{Org: inv.Org, UserID: u.ID, Email: u.Email,
		Role: inv.Role, CreatedAt: db.nowTime()}); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM org_invitations WHERE id = ?`, inv.ID); err != nil {
		return fmt.Errorf("sqlite: delete invitation: %w", err)
	}
	return db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: inv.Org.ID, Action: "invitation.accepted", Target: inv.ID,
		Details: detailsJSON(map[string]any{"email": u.Email, "role": inv.Role})})
}

// RevokeInvitation withdraws a pending invitation of the organization.
// ENOTFOUND when it has no such invitation. Audited (invitation.revoked).
func (db *DB) RevokeInvitation(ctx context.Context, orgID, id string) error {
	return db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM org_invitations WHERE org_id = ? AND id = ?`, orgID, id)
		if err != nil {
			return fmt.Errorf("sqlite: revoke invitation: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errInvitationNotFound()
		}
		return db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: orgID, Action: "invitation.revoked", Target: id})
	})
}
