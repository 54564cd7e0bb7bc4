package sqlite

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/likeness/likeness"
)

// Console limits.
const (
	MaxEmailLen   = 254 // bytes
	MaxOrgNameLen = 100 // characters
	userIDPrefix  = "usr_"
	orgIDPrefix   = "org_"
)

// outcomeName is what RecordOutcome accepts as an outcome: "ok" or a FACEIO
// code name.
var outcomeName = regexp.MustCompile(`^(ok|[A-Z][A-Z_]{1,39})$`)

// SessionKey derives a 32-byte key for one purpose (for example signing the
// console's session cookies) from the master key, so that the key lives
// nowhere and changes with the master key. EINVALID for an empty purpose.
func (db *DB) SessionKey(purpose string) ([]byte, error) {
	if purpose == "" {
		return nil, likeness.Errorf(likeness.EINVALID, "A key purpose is required.")
	}
	return hkdf.Key(sha256.New, db.master, nil, "likeness session key v1: "+purpose, 32)
}

// normEmail returns the address trimmed and in lower case, or EINVALID.
func normEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	at := strings.LastIndexByte(e, '@')
	if len(e) > MaxEmailLen || at < 1 || at == len(e)-1 || !utf8.ValidString(e) || strings.ContainsAny(e, " \t\r\n<>") {
		return "", likeness.Errorf(likeness.EINVALID, "Enter a valid email address.")
	}
	return e, nil
}

func checkRole(role string) error {
	switch role {
	case likeness.OrgOwner, likeness.OrgAdmin, likeness.OrgViewer:
		return nil
	}
	return likeness.Errorf(likeness.EINVALID, "Role must be owner, admin or viewer.")
}

const userColumns = `id, email, password_hash, must_change_password, session_version, created_at, last_sign_in_at, operator`

func scanUser(row interface{ Scan(...any) error }) (*likeness.User, error) {
	var (
		u       likeness.User
		created int64
		last    sql.NullInt64
	)
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.MustChangePassword, &u.SessionVersion, &created, &last, &u.Operator); err != nil {
		return nil, err
	}
	u.CreatedAt, u.LastSignInAt = fromMS(created), nullTime(last)
	return &u, nil
}

func errUserNotFound() error { return likeness.Errorf(likeness.ENOTFOUND, "Account not found.") }

// CountUsers returns how many console accounts exist.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM console_users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count users: %w", err)
	}
	return n, nil
}

// CreateAccount creates a console account and an organization it owns, in
// one transaction, and audits both in the new organization's chain.
// EINVALID for a bad email or organization name, ECONFLICT when an account
// has the email.
func (db *DB) CreateAccount(ctx context.Context, in likeness.AccountCreate) (*likeness.User, *likeness.Membership, error) {
	email, err := normEmail(in.Email)
	if err != nil {
		return nil, nil, err
	}
	orgName := strings.TrimSpace(in.OrgName)
	if n := utf8.RuneCountInString(orgName); n == 0 || n > MaxOrgNameLen || strings.ContainsAny(orgName, "\r\n\t") {
		return nil, nil, likeness.Errorf(likeness.EINVALID, "Organization name must be 1 to %d characters on one line.", MaxOrgNameLen)
	}
	if in.PasswordHash == "" {
		return nil, nil, likeness.Errorf(likeness.EINVALID, "A password is required.")
	}
	now := db.nowTime()
	u := &likeness.User{ID: userIDPrefix + randomBase62(publicIDLen), Email: email, PasswordHash: in.PasswordHash,
		SessionVersion: 1, CreatedAt: now}
	m := &likeness.Membership{Org: likeness.Organization{ID: orgIDPrefix + randomBase62(publicIDLen), Name: orgName,
		CreatedAt: now}, UserID: u.ID, Email: email, Role: likeness.OrgOwner, CreatedAt: now}
	ctx = likeness.WithActor(ctx, "console:"+u.ID)
	err = db.update(ctx, func(tx *sql.Tx) error {
		if err := insertUser(ctx, tx, u); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)`,
			m.Org.ID, m.Org.Name, ms(now)); err != nil {
			return fmt.Errorf("sqlite: insert organization: %w", err)
		}
		if err := db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: m.Org.ID, Action: "organization.created",
			Target: m.Org.ID, Details: detailsJSON(map[string]any{"name": m.Org.Name})}); err != nil {
			return err
		}
		return db.insertMemberTx(ctx, tx, m)
	})
	if err != nil {
		return nil, nil, err
	}
	return u, m, nil
}

func insertUser(ctx context.Context, tx *sql.Tx, u *likeness.User) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO console_users (id, email, password_hash, must_change_password,
		session_version, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.PasswordHash, boolInt(u.MustChangePassword), u.SessionVersion, ms(u.CreatedAt))
	if isUniqueViolation(err) {
		return likeness.Errorf(likeness.ECONFLICT, "An account with this email address exists.")
	}
	if err != nil {
		return fmt.Errorf("sqlite: insert user: %w", err)
	}
	return nil
}

// insertMemberTx adds a membership and audits it.
func (db *DB) insertMemberTx(ctx context.Context, tx *sql.Tx, m *likeness.Membership) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO org_members (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`,
		m.Org.ID, m.UserID, m.Role, ms(m.CreatedAt))
	switch {
	case isUniqueViolation(err):
		return likeness.Errorf(likeness.ECONFLICT, "This account is already a member.")
	case isForeignKeyViolation(err):
		return likeness.Errorf(likeness.ENOTFOUND, "Organization not found.")
	case err != nil:
		return fmt.Errorf("sqlite: insert member: %w", err)
	}
	return db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: m.Org.ID, Action: "member.added", Target: m.UserID,
		Details: detailsJSON(map[string]any{"email": m.Email, "role": m.Role})})
}

// User returns a console account. ENOTFOUND when there is none, or when
// it is disabled with its deleted organizations (orgs.go).
func (db *DB) User(ctx context.Context, id string) (*likeness.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM console_users WHERE id = ?`+userEnabled, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUserNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user: %w", err)
	}
	return u, nil
}

// UserByEmail returns the console account with that email address (compared
// in lower case). ENOTFOUND when there is none, or when it is disabled.
func (db *DB) UserByEmail(ctx context.Context, email string) (*likeness.User, error) {
	e, err := normEmail(email)
	if err != nil {
		return nil, errUserNotFound()
	}
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM console_users WHERE email = ?`+userEnabled, e))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUserNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user: %w", err)
	}
	return u, nil
}

// SetPassword replaces an account's password hash, clears its must-change
// flag and raises its session version, which ends every session of the
// account. ENOTFOUND when there is no such account.
func (db *DB) SetPassword(ctx context.Context, userID, passwordHash string) (*likeness.User, error) {
	if passwordHash == "" {
		return nil, likeness.Errorf(likeness.EINVALID, "A password is required.")
	}
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE console_users SET password_hash = ?, must_change_password = 0,
			session_version = session_version + 1 WHERE id = ?`, passwordHash, userID)
		if err != nil {
			return fmt.Errorf("sqlite: set password: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errUserNotFound()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.User(ctx, userID)
}

// RecordSignIn notes the time of an account's successful sign-in.
func (db *DB) RecordSignIn(ctx context.Context, userID string) error {
	return db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE console_users SET last_sign_in_at = ? WHERE id = ?`, ms(db.nowTime()), userID)
		return err
	})
}

const memberQuery = `SELECT o.id, o.name, o.created_at, m.user_id, u.email, m.role, m.created_at
	FROM org_members m JOIN organizations o ON o.id = m.org_id JOIN console_users u ON u.id = m.user_id`

func (db *DB) members(ctx context.Context, where string, args ...any) ([]*likeness.Membership, error) {
	// A deleted organization has no members until it is restored (orgs.go).
	rows, err := db.r.QueryContext(ctx, memberQuery+` WHERE o.deleted_at IS NULL AND `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: members: %w", err)
	}
	defer rows.Close()
	out := []*likeness.Membership{}
	for rows.Next() {
		var (
			m                  likeness.Membership
			orgCreated, joined int64
		)
		if err := rows.Scan(&m.Org.ID, &m.Org.Name, &orgCreated, &m.UserID, &m.Email, &m.Role, &joined); err != nil {
			return nil, fmt.Errorf("sqlite: members: %w", err)
		}
		m.Org.CreatedAt, m.CreatedAt = fromMS(orgCreated), fromMS(joined)
		out = append(out, &m)
	}
	return out, rows.Err()
}

// Memberships returns the organizations an account belongs to, by name.
func (db *DB) Memberships(ctx context.Context, userID string) ([]*likeness.Membership, error) {
	return db.members(ctx, `m.user_id = ? ORDER BY o.name, o.id`, userID)
}

// Members returns an organization's members, owners first.
func (db *DB) Members(ctx context.Context, orgID string) ([]*likeness.Membership, error) {
	return db.members(ctx, `m.org_id = ? ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, u.email`, orgID)
}

// Membership returns an account's membership of an organization. ENOTFOUND
// when it is not a member (or either does not exist).
func (db *DB) Membership(ctx context.Context, orgID, userID string) (*likeness.Membership, error) {
	found, err := db.members(ctx, `m.org_id = ? AND m.user_id = ?`, orgID, userID)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "Organization not found.")
	}
	return found[0], nil
}

// Organization returns an organization. ENOTFOUND when there is none.
func (db *DB) Organization(ctx context.Context, orgID string) (*likeness.Organization, error) {
	var (
		o       likeness.Organization
		created int64
	)
	err := db.r.QueryRowContext(ctx, `SELECT id, name, created_at FROM organizations WHERE id = ?`, orgID).
		Scan(&o.ID, &o.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "Organization not found.")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: organization: %w", err)
	}
	o.CreatedAt = fromMS(created)
	return &o, nil
}

// OrgApps returns an organization's applications, oldest first.
func (db *DB) OrgApps(ctx context.Context, orgID string) ([]*likeness.Application, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+appColumns+` FROM applications WHERE org_id = ? ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: organization applications: %w", err)
	}
	defer rows.Close()
	apps := []*likeness.Application{}
	for rows.Next() {
		app, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		apps = append(apps, app)
	}
	return apps, rows.Err()
}

// ownersLeftTx returns how many owners the organization would keep without
// the account userID.
func ownersLeftTx(ctx context.Context, tx *sql.Tx, orgID, userID string) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM org_members WHERE org_id = ? AND role = 'owner' AND user_id <> ?`,
		orgID, userID).Scan(&n)
	return n, err
}

// memberRoleTx returns a member's role. ENOTFOUND when it is not a member.
func memberRoleTx(ctx context.Context, tx *sql.Tx, orgID, userID string) (string, error) {
	var role string
	err := tx.QueryRowContext(ctx, `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`, orgID, userID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", likeness.Errorf(likeness.ENOTFOUND, "Member not found.")
	}
	return role, err
}

var errLastOwner = likeness.Errorf(likeness.EPRECONDITION, "An organization needs at least one owner.")

// SetMemberRole changes a member's role and audits it. ENOTFOUND when the
// account is not a member, EPRECONDITION when it would leave the
// organization without an owner.
func (db *DB) SetMemberRole(ctx context.Context, orgID, userID, role string) error {
	if err := checkRole(role); err != nil {
		return err
	}
	return db.update(ctx, func(tx *sql.Tx) error {
		old, err := memberRoleTx(ctx, tx, orgID, userID)
		if err != nil || old == role {
			return err
		}
		if old == likeness.OrgOwner {
			if n, err := ownersLeftTx(ctx, tx, orgID, userID); err != nil {
				return err
			} else if n == 0 {
				return errLastOwner
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE org_members SET role = ? WHERE org_id = ? AND user_id = ?`, role, orgID, userID); err != nil {
			return fmt.Errorf("sqlite: set role: %w", err)
		}
		return db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: orgID, Action: "member.role_changed", Target: userID,
			Details: detailsJSON(map[string]any{"from": old, "to": role})})
	})
}

// RemoveMember removes an account from an organization and audits it. The
// account itself stays. ENOTFOUND when it is not a member, EPRECONDITION
// when it is the last owner.
func (db *DB) RemoveMember(ctx context.Context, orgID, userID string) error {
	return db.update(ctx, func(tx *sql.Tx) error {
		role, err := memberRoleTx(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if role == likeness.OrgOwner {
			if n, err := ownersLeftTx(ctx, tx, orgID, userID); err != nil {
				return err
			} else if n == 0 {
				return errLastOwner
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM org_members WHERE org_id = ? AND user_id = ?`, orgID, userID); err != nil {
			return fmt.Errorf("sqlite: remove member: %w", err)
		}
		return db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: orgID, Action: "member.removed", Target: userID,
			Details: detailsJSON(map[string]any{"role": role})})
	})
}

// ClaimOrg makes the account the owner of an organization that has no
// member (one made by `likeness app create` or `serve --demo`), and reports
// whether it did. ENOTFOUND when the organization does not exist.
func (db *DB) ClaimOrg(ctx context.Context, orgID, userID string) (bool, error) {
	u, err := db.User(ctx, userID)
	if err != nil {
		return false, err
	}
	claimed := false
	err = db.update(ctx, func(tx *sql.Tx) error {
		var members int
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM org_members WHERE org_id = o.id)
			FROM organizations o WHERE o.id = ?`, orgID).Scan(&members); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return likeness.Errorf(likeness.ENOTFOUND, "Organization not found.")
			}
			return err
		}
		if members > 0 {
			return nil
		}
		claimed = true
		return db.insertMemberTx(ctx, tx, &likeness.Membership{Org: likeness.Organization{ID: orgID}, UserID: u.ID,
			Email: u.Email, Role: likeness.OrgOwner, CreatedAt: db.nowTime()})
	})
	return claimed, err
}

// ClaimUnownedOrgs makes the account the owner of every organization that
// has no member, and returns how many it claimed.
func (db *DB) ClaimUnownedOrgs(ctx context.Context, userID string) (int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id FROM organizations o
		WHERE NOT EXISTS (SELECT 1 FROM org_members m WHERE m.org_id = o.id) ORDER BY created_at, id`)
	if err != nil {
		return 0, fmt.Errorf("sqlite: unowned organizations: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		ok, err := db.ClaimOrg(ctx, id, userID)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// RevokeSession ends a console or privacy session before it expires: sid is
// refused until until, after which the session has expired anyway.
func (db *DB) RevokeSession(ctx context.Context, sid string, until time.Time) error {
	if sid == "" {
		return likeness.Errorf(likeness.EINVALID, "A session ID is required.")
	}
	return db.update(ctx, func(tx *sql.Tx) error {
		now := ms(db.nowTime())
		if _, err := tx.ExecContext(ctx, `DELETE FROM revoked_sessions WHERE expires_at < ?`, now); err != nil {
			return fmt.Errorf("sqlite: revoke session: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO revoked_sessions (sid, expires_at) VALUES (?, ?)
			ON CONFLICT (sid) DO UPDATE SET expires_at = CASE WHEN excluded.expires_at > revoked_sessions.expires_at
				THEN excluded.expires_at ELSE revoked_sessions.expires_at END`, sid, ms(until))
		if err != nil {
			return fmt.Errorf("sqlite: revoke session: %w", err)
		}
		return nil
	})
}

// SessionRevoked reports whether a session was ended by RevokeSession.
func (db *DB) SessionRevoked(ctx context.Context, sid string) (bool, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM revoked_sessions WHERE sid = ?`, sid).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlite: session revoked: %w", err)
	}
	return n > 0, nil
}

// UseToken records that the token with this ID was accepted; it is kept
// until exp, when the token expires anyway. ECONFLICT when the token was
// used already; EINVALID for an empty ID.
func (db *DB) UseToken(ctx context.Context, jti string, exp time.Time) error {
	if jti == "" || len(jti) > 200 {
		return likeness.Errorf(likeness.EINVALID, "The token has no usable ID.")
	}
	return db.update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM used_tokens WHERE expires_at < ?`, ms(db.nowTime())); err != nil {
			return fmt.Errorf("sqlite: use token: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO used_tokens (jti, expires_at) VALUES (?, ?)`, jti, ms(exp))
		if isUniqueViolation(err) {
			return likeness.Errorf(likeness.ECONFLICT, "This token was used already.")
		}
		if err != nil {
			return fmt.Errorf("sqlite: use token: %w", err)
		}
		return nil
	})
}

// RecordOutcome counts one widget operation of an application that ended
// with outcome ("ok" or a FACEIO code name) today (UTC). op is "enroll" or
// "authenticate". EINVALID for another op or a malformed outcome, ENOTFOUND
// when the application does not exist.
func (db *DB) RecordOutcome(ctx context.Context, appID, op, outcome string) error {
	if op != "enroll" && op != "authenticate" {
		return likeness.Errorf(likeness.EINVALID, "op must be enroll or authenticate.")
	}
	if !outcomeName.MatchString(outcome) {
		return likeness.Errorf(likeness.EINVALID, "The outcome must be ok or a FACEIO code name.")
	}
	day := db.nowTime().Unix() / 86400
	err := db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO outcome_counts (app_id, day, kind, outcome, count) VALUES (?, ?, ?, ?, 1)
			ON CONFLICT (app_id, day, kind, outcome) DO UPDATE SET count = outcome_counts.count + 1`, appID, day, op, outcome)
		return err
	})
	if isForeignKeyViolation(err) {
		return likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
	}
	if err != nil {
		return fmt.Errorf("sqlite: record outcome: %w", err)
	}
	return nil
}

// RecordUnknownApp counts, today (UTC), one widget operation op that named
// an unknown public ID from origin (normalised) as outcome "UNAUTHORIZED"
// of every application whose allowed origins hold origin. EINVALID for
// another op.
func (db *DB) RecordUnknownApp(ctx context.Context, origin, op string) error {
	if op != "enroll" && op != "authenticate" {
		return likeness.Errorf(likeness.EINVALID, "op must be enroll or authenticate.")
	}
	quoted, err := json.Marshal(origin) // as the origins column holds it
	if err != nil {
		return fmt.Errorf("sqlite: record unknown app: %w", err)
	}
	like := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(string(quoted))
	day := db.nowTime().Unix() / 86400
	err = db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO outcome_counts (app_id, day, kind, outcome, count)
			SELECT id, ?, ?, 'UNAUTHORIZED', 1 FROM applications WHERE origins LIKE ? ESCAPE '\'
			ON CONFLICT (app_id, day, kind, outcome) DO UPDATE SET count = outcome_counts.count + 1`,
			day, op, "%"+like+"%")
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: record unknown app: %w", err)
	}
	return nil
}

// Outcomes returns an application's outcome counts from the day of since
// (UTC) on, oldest first.
func (db *DB) Outcomes(ctx context.Context, appID string, since time.Time) ([]likeness.OutcomeCount, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT day, kind, outcome, count FROM outcome_counts
		WHERE app_id = ? AND day >= ? ORDER BY day, kind, outcome`, appID, since.UTC().Unix()/86400)
	if err != nil {
		return nil, fmt.Errorf("sqlite: outcomes: %w", err)
	}
	defer rows.Close()
	out := []likeness.OutcomeCount{}
	for rows.Next() {
		var (
			c   likeness.OutcomeCount
			day int64
		)
		if err := rows.Scan(&day, &c.Op, &c.Outcome, &c.Count); err != nil {
			return nil, fmt.Errorf("sqlite: outcomes: %w", err)
		}
		c.Day = time.Unix(day*86400, 0).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

const noticeColumns = `app_id, version, locale, title, text, sha256, created_at`

func scanNotice(row interface{ Scan(...any) error }) (*likeness.Notice, error) {
	var (
		n       likeness.Notice
		created int64
	)
	if err := row.Scan(&n.AppID, &n.Version, &n.Locale, &n.Title, &n.Text, &n.SHA256, &created); err != nil {
		return nil, err
	}
	n.CreatedAt = fromMS(created)
	return &n, nil
}

// Notices returns every version of the application's consent notices, by
// locale, newest version first.
func (db *DB) Notices(ctx context.Context, appID string) ([]*likeness.Notice, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+noticeColumns+` FROM notices WHERE app_id = ?
		ORDER BY locale, version DESC`, appID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: notices: %w", err)
	}
	defer rows.Close()
	out := []*likeness.Notice{}
	for rows.Next() {
		n, err := scanNotice(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: notices: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Notice returns one version of the application's notice for a locale.
// ENOTFOUND when there is no such version.
func (db *DB) Notice(ctx context.Context, appID, locale string, version int) (*likeness.Notice, error) {
	n, err := scanNotice(db.r.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM notices
		WHERE app_id = ? AND locale = ? AND version = ?`, appID, locale, version))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "Notice not found.")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: notice: %w", err)
	}
	return n, nil
}

func detailsJSON(v map[string]any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
