package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

// Deleting an organization happens in three steps:
//
//  1. DeleteOrg, at once: the organization is disabled (no console, no
//     API key, no widget), its API keys revoked, and every face of every
//     application erased (templates, images, vector entries, payloads),
//     each with a facialid.deleted event (reason account_deleted) in the
//     outbox.
//  2. FinishOrgDeletions, by the server's job: once those events are
//     delivered (or after likeness.DeletionKeyWait), each application's
//     data key is destroyed (crypto-shredding any copy in backups or freed
//     pages), and its consent records, keys, webhook endpoints and outbox
//     go with it. Names, origins, settings and notices stay for a restore.
//  3. PurgeDeletedOrgs, by the same job, after likeness.OrgRetention:
//     applications, members, accounts left without an organization, and
//     the audit trail are deleted.
//
// RestoreOrg undoes 1 and 2 before 3, without biometrics.

var errOrgNotFound = likeness.Errorf(likeness.ENOTFOUND, "Organization not found.")

// userEnabled ends a query of console_users: an account whose every
// organization is deleted is disabled with them (no sign-in, no session)
// until one is restored; an account in no organization at all is not.
const userEnabled = ` AND NOT (EXISTS (SELECT 1 FROM org_members m JOIN organizations o ON o.id = m.org_id
		WHERE m.user_id = console_users.id AND o.deleted_at IS NOT NULL)
	AND NOT EXISTS (SELECT 1 FROM org_members m JOIN organizations o ON o.id = m.org_id
		WHERE m.user_id = console_users.id AND o.deleted_at IS NULL))`

// orgApp is an application of an organization being deleted.
type orgApp struct{ id, collection string }

func (db *DB) orgAppIDs(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, orgID string) ([]orgApp, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, collection_id FROM applications WHERE org_id = ? ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: organization applications: %w", err)
	}
	defer rows.Close()
	var out []orgApp
	for rows.Next() {
		var a orgApp
		if err := rows.Scan(&a.id, &a.collection); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// OrgDeletedAt returns when the organization was deleted, or nil when it is
// in use. ENOTFOUND when there is no such organization.
func (db *DB) OrgDeletedAt(ctx context.Context, orgID string) (*time.Time, error) {
	var at sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT deleted_at FROM organizations WHERE id = ?`, orgID).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errOrgNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: organization: %w", err)
	}
	return nullTime(at), nil
}

// orgInUse reports whether the organization exists and is not deleted.
func (db *DB) orgInUse(ctx context.Context, orgID string) (bool, error) {
	if orgID == "" { // not made by this version: never deleted
		return true, nil
	}
	at, err := db.OrgDeletedAt(ctx, orgID)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return false, nil
	}
	return err == nil && at == nil, err
}

// DeleteOrg deletes an organization (step 1 above). ENOTFOUND when there is
// no such organization or it is already deleted.
func (db *DB) DeleteOrg(ctx context.Context, orgID string) (*likeness.OrgDeletion, error) {
	now := db.nowTime()
	var apps []orgApp
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE organizations SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL`, ms(now), orgID)
		if err != nil {
			return fmt.Errorf("sqlite: delete organization: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errOrgNotFound
		}
		if apps, err = db.orgAppIDs(ctx, tx, orgID); err != nil {
			return err
		}
		for _, a := range apps {
			if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE app_id = ? AND revoked_at IS NULL`, ms(now), a.id); err != nil {
				return fmt.Errorf("sqlite: revoke keys: %w", err)
			}
		}
		raw, _ := json.Marshal(map[string]any{"applications": len(apps), "purgeAfter": now.Add(likeness.OrgRetention)})
		return db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: orgID, Action: "organization.deleted", Target: orgID, Details: raw})
	})
	if err != nil {
		return nil, err
	}
	d := &likeness.OrgDeletion{OrgID: orgID, Applications: len(apps), DeletedAt: now, PurgeAfter: now.Add(likeness.OrgRetention)}
	for _, a := range apps {
		n, err := db.eraseAppFaces(ctx, a)
		d.FacesErased += n
		if err != nil {
			return d, err
		}
	}
	db.wakeWebhooks()
	return d, nil
}

// eraseAppFaces erases every face of an application with an event each; an
// application whose key is already gone has no faces left to erase.
func (db *DB) eraseAppFaces(ctx context.Context, a orgApp) (int, error) {
	n, err := db.deleteFacesWhere(ctx, a.id, likeness.ReasonAccountDeleted, `app_id = ?`, a.id)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return n, nil
	}
	return n, err
}

// FinishOrgDeletions destroys the data keys of deleted organizations whose
// deletion events are all delivered (or failed), or that were deleted
// longer than wait ago (step 2 above). Faces enrolled by a request that
// raced the deletion are erased first. It returns how many organizations
// it finished.
func (db *DB) FinishOrgDeletions(ctx context.Context, wait time.Duration) (int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT o.id, o.deleted_at, (SELECT count(*) FROM webhook_deliveries d
		JOIN applications a ON a.id = d.app_id WHERE a.org_id = o.id AND d.status = 'pending')
		FROM organizations o WHERE o.deleted_at IS NOT NULL AND o.shredded_at IS NULL`)
	if err != nil {
		return 0, fmt.Errorf("sqlite: deleted organizations: %w", err)
	}
	var due []string
	now := db.nowTime()
	for rows.Next() {
		var (
			id      string
			at      int64
			pending int
		)
		if err := rows.Scan(&id, &at, &pending); err != nil {
			rows.Close()
			return 0, err
		}
		if pending == 0 || now.Sub(fromMS(at)) >= wait {
			due = append(due, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	done := 0
	for _, id := range due {
		if err := db.shredOrg(ctx, id); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

// shredOrg destroys every data key of a deleted organization and what only
// makes sense with it; settings, names, origins and notices stay.
func (db *DB) shredOrg(ctx context.Context, orgID string) error {
	ctx = likeness.WithActor(ctx, "system:org-deletion")
	apps, err := db.orgAppIDs(ctx, db.r, orgID)
	if err != nil {
		return err
	}
	for _, a := range apps {
		if _, err := db.eraseAppFaces(ctx, a); err != nil {
			return err
		}
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	err = db.updateLocked(ctx, func(tx *sql.Tx) error {
		for _, a := range apps {
			if _, err := tx.ExecContext(ctx, `UPDATE applications SET data_key_wrapped = NULL WHERE id = ?`, a.id); err != nil {
				return err
			}
			for _, t := range []string{"face_images", "faces", "consent_records", "api_keys", "webhook_endpoints", "webhook_events"} {
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE app_id = ?`, a.id); err != nil {
					return fmt.Errorf("sqlite: shred %s: %w", t, err)
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE organizations SET shredded_at = ? WHERE id = ?`, ms(db.nowTime()), orgID); err != nil {
			return err
		}
		raw, _ := json.Marshal(map[string]int{"applications": len(apps)})
		return db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: orgID, Action: "organization.keys_destroyed", Target: orgID, Details: raw})
	})
	if err != nil {
		return err
	}
	for _, a := range apps {
		db.index.Drop(a.collection)
		db.mu.Lock()
		clear(db.apps[a.id].key)
		delete(db.apps, a.id)
		db.mu.Unlock()
	}
	db.checkpoint(ctx)
	return nil
}

// PurgeDeletedOrgs deletes what is left of organizations deleted at least
// retention ago (step 3 above): applications, members, accounts that
// belong to no other organization, support grants and the audit trail. It
// returns how many organizations it purged.
func (db *DB) PurgeDeletedOrgs(ctx context.Context, retention time.Duration) (int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, shredded_at IS NOT NULL FROM organizations
		WHERE deleted_at IS NOT NULL AND deleted_at <= ?`, ms(db.nowTime().Add(-retention)))
	if err != nil {
		return 0, fmt.Errorf("sqlite: deleted organizations: %w", err)
	}
	type victim struct {
		id       string
		shredded bool
	}
	var vs []victim
	for rows.Next() {
		var v victim
		if err := rows.Scan(&v.id, &v.shredded); err != nil {
			rows.Close()
			return 0, err
		}
		vs = append(vs, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, v := range vs {
		if !v.shredded {
			if err := db.shredOrg(ctx, v.id); err != nil {
				return n, err
			}
		}
		err := db.update(ctx, func(tx *sql.Tx) error {
			stmts := []string{
				`DELETE FROM console_users WHERE id IN (SELECT user_id FROM org_members WHERE org_id = ?1)
					AND id NOT IN (SELECT user_id FROM org_members WHERE org_id <> ?1)`,
				`DELETE FROM org_members WHERE org_id = ?1`,
				`DELETE FROM usage_records WHERE app_id IN (SELECT id FROM applications WHERE org_id = ?1)`,
				`DELETE FROM notices WHERE app_id IN (SELECT id FROM applications WHERE org_id = ?1)`,
				`DELETE FROM applications WHERE org_id = ?1`,
				`DELETE FROM audit_events WHERE org_id = ?1`,
				`DELETE FROM organizations WHERE id = ?1`,
			}
			for _, s := range stmts {
				if _, err := tx.ExecContext(ctx, s, v.id); err != nil {
					return fmt.Errorf("sqlite: purge organization: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n++
	}
	if n > 0 {
		db.checkpoint(ctx)
	}
	return n, nil
}

// RestoreOrg brings a deleted organization back within
// likeness.OrgRetention: members, applications with their settings,
// origins and notices, and the audit trail; no face, no consent record, no
// API key (owners make new ones) and no webhook endpoint. Applications
// whose key was destroyed get a new one. ENOTFOUND when the organization
// is not deleted, EPRECONDITION when it is too late.
func (db *DB) RestoreOrg(ctx context.Context, orgID string) (*likeness.Organization, error) {
	at, err := db.OrgDeletedAt(ctx, orgID)
	if err != nil {
		return nil, err
	}
	if at == nil {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "This organization is not deleted.")
	}
	if !likeness.CanRestoreOrg(*at, db.nowTime()) {
		return nil, likeness.Errorf(likeness.EPRECONDITION, "This organization was deleted more than 90 days ago and can no longer be restored.")
	}
	apps, err := db.orgAppIDs(ctx, db.r, orgID)
	if err != nil {
		return nil, err
	}
	keys := map[string][]byte{}
	err = db.update(ctx, func(tx *sql.Tx) error {
		for _, a := range apps {
			var wrapped []byte
			if err := tx.QueryRowContext(ctx, `SELECT data_key_wrapped FROM applications WHERE id = ?`, a.id).Scan(&wrapped); err != nil {
				return err
			}
			if wrapped != nil {
				continue
			}
			key, err := crypt.NewDataKey()
			if err != nil {
				return err
			}
			if wrapped, err = crypt.Seal(db.master, key, dataKeyAAD(a.id)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE applications SET data_key_wrapped = ? WHERE id = ?`, wrapped, a.id); err != nil {
				return err
			}
			keys[a.id] = key
		}
		if _, err := tx.ExecContext(ctx, `UPDATE organizations SET deleted_at = NULL, shredded_at = NULL WHERE id = ?`, orgID); err != nil {
			return err
		}
		raw, _ := json.Marshal(map[string]any{"deletedAt": *at, "newKeys": len(keys)})
		return db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: orgID, Action: "organization.restored", Target: orgID, Details: raw})
	})
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		if key, ok := keys[a.id]; ok {
			db.mu.Lock()
			db.apps[a.id] = appKey{collection: a.collection, key: key}
			db.mu.Unlock()
			db.index.created(a.collection)
		}
	}
	return db.Organization(ctx, orgID)
}

// ExportOrg returns everything the organization holds except biometrics
// and secrets: members, applications with their settings, notices and
// webhook endpoints, consent records and the audit trail.
func (db *DB) ExportOrg(ctx context.Context, orgID string) (*likeness.AccountExport, error) {
	org, err := db.Organization(ctx, orgID)
	if err != nil {
		return nil, err
	}
	x := &likeness.AccountExport{Organization: likeness.ExportOrg{ID: org.ID, Name: org.Name, CreatedAt: org.CreatedAt},
		ExportedAt: db.nowTime(), Members: []likeness.ExportMember{}, Applications: []likeness.ExportApp{},
		ConsentRecords: []likeness.ExportConsentOf{}, Audit: []likeness.ExportAudit{}}
	members, err := db.Members(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		x.Members = append(x.Members, likeness.ExportMember{Email: m.Email, Role: m.Role, JoinedAt: m.CreatedAt})
	}
	apps, err := db.OrgApps(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		ea := likeness.ExportApp{PublicID: a.PublicID, Name: a.Name, Origins: a.Origins, CollectionID: a.CollectionID,
			CreatedAt: a.CreatedAt, Notices: []likeness.ExportNotice{}, Webhooks: []likeness.ExportWebhook{}}
		if ea.Settings, err = db.Settings(ctx, a.ID); err != nil {
			return nil, err
		}
		if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM faces WHERE app_id = ?`, a.ID).Scan(&ea.Faces); err != nil {
			return nil, err
		}
		notices, err := db.Notices(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		for _, n := range notices {
			ea.Notices = append(ea.Notices, likeness.ExportNotice{Version: n.Version, Locale: n.Locale, Title: n.Title,
				Text: n.Text, SHA256: n.SHA256, CreatedAt: n.CreatedAt})
		}
		if err := db.exportWebhooks(ctx, a.ID, &ea); err != nil {
			return nil, err
		}
		if err := db.exportConsent(ctx, a, x); err != nil {
			return nil, err
		}
		x.Applications = append(x.Applications, ea)
	}
	for after := int64(0); ; {
		es, err := db.AuditEntries(ctx, orgID, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			x.Audit = append(x.Audit, likeness.ExportAudit{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action,
				AppID: e.AppID, Target: e.Target, Details: e.Details, Hash: e.Hash})
			after = e.Seq
		}
		if len(es) < 1000 {
			break
		}
	}
	return x, nil
}

// exportWebhooks lists endpoints without opening their secrets.
func (db *DB) exportWebhooks(ctx context.Context, appID string, ea *likeness.ExportApp) error {
	rows, err := db.r.QueryContext(ctx, `SELECT url, events, enabled FROM webhook_endpoints WHERE app_id = ? ORDER BY created_at, id`, appID)
	if err != nil {
		return fmt.Errorf("sqlite: export webhooks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			w      likeness.ExportWebhook
			events string
		)
		if err := rows.Scan(&w.URL, &events, &w.Enabled); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
			return fmt.Errorf("sqlite: export webhooks: %w", err)
		}
		ea.Webhooks = append(ea.Webhooks, w)
	}
	return rows.Err()
}

func (db *DB) exportConsent(ctx context.Context, a *likeness.Application, x *likeness.AccountExport) error {
	rows, err := db.r.QueryContext(ctx, `SELECT id, kind, notice_version, notice_sha256, locale, method, obtained_at, created_at
		FROM consent_records WHERE app_id = ? ORDER BY created_at, id`, a.ID)
	if err != nil {
		return fmt.Errorf("sqlite: export consent: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r        = likeness.ExportConsentOf{Application: a.PublicID}
			obtained sql.NullInt64
			created  int64
		)
		if err := rows.Scan(&r.ID, &r.Kind, &r.NoticeVersion, &r.NoticeSHA256, &r.Locale, &r.Method, &obtained, &created); err != nil {
			return err
		}
		r.ObtainedAt, r.CreatedAt = nullTime(obtained), fromMS(created)
		x.ConsentRecords = append(x.ConsentRecords, r)
	}
	return rows.Err()
}

// DeleteUser deletes a console account and its memberships, with an audit
// entry in each organization it leaves. EPRECONDITION while it is the only
// owner of an organization in use (hand it over or delete it first).
func (db *DB) DeleteUser(ctx context.Context, userID string) error {
	return db.update(ctx, func(tx *sql.Tx) error {
		var email string
		if err := tx.QueryRowContext(ctx, `SELECT email FROM console_users WHERE id = ?`, userID).Scan(&email); errors.Is(err, sql.ErrNoRows) {
			return errUserNotFound()
		} else if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT m.org_id, o.name, m.role, o.deleted_at IS NOT NULL,
			(SELECT count(*) FROM org_members x WHERE x.org_id = m.org_id AND x.role = 'owner')
			FROM org_members m JOIN organizations o ON o.id = m.org_id WHERE m.user_id = ?`, userID)
		if err != nil {
			return err
		}
		var (
			ms     []*likeness.Membership
			owners = map[string]int{}
			orgs   []string
		)
		for rows.Next() {
			var (
				m       likeness.Membership
				deleted bool
				n       int
			)
			if err := rows.Scan(&m.Org.ID, &m.Org.Name, &m.Role, &deleted, &n); err != nil {
				rows.Close()
				return err
			}
			orgs = append(orgs, m.Org.ID)
			if !deleted { // a deleted organization needs no owner to hand over to
				ms, owners[m.Org.ID] = append(ms, &m), n
			}
		}
		rows.Close()
		if sole := likeness.SoleOwnerOrgs(ms, owners); len(sole) > 0 {
			return likeness.Errorf(likeness.EPRECONDITION,
				"You are the only owner of %s: make another member an owner, or delete the organization, first.", sole[0].Name)
		}
		for _, org := range orgs {
			raw, _ := json.Marshal(map[string]string{"email": email})
			if err := db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: org, Action: "member.account_deleted", Target: userID, Details: raw}); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM org_members WHERE user_id = ?`, userID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM console_users WHERE id = ?`, userID)
		return err
	})
}
