package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

// API key roles.
const (
	RoleOwner  = "owner"  // may read the organization's audit trail and manage keys
	RoleMember = "member" // may use the application's API
)

// Limits of the API's inputs.
const (
	MaxRetentionDays = 3650
	MaxImagesPerFace = 5
)

// changeTx records a state change inside tx: its audit entry and its event
// in the webhook outbox. For a deletion, call it before deleting the row.
func (db *DB) changeTx(ctx context.Context, tx *sql.Tx, ev likeness.Event, details map[string]any) error {
	var raw json.RawMessage
	if len(details) > 0 {
		raw, _ = json.Marshal(details)
	}
	target := ev.FacialID
	if target == "" {
		target = ev.ConsentID
	}
	if err := db.auditTx(ctx, tx, likeness.AuditEntry{Action: ev.Type, AppID: ev.AppID, Target: target, Details: raw}); err != nil {
		return err
	}
	return db.emitTx(ctx, tx, ev)
}

// storeImagesTx seals and keeps the enrollment images when the collection
// stores images; otherwise it keeps nothing.
func (db *DB) storeImagesTx(ctx context.Context, tx *sql.Tx, ak appKey, face *likeness.Face, images [][]byte) error {
	if len(images) == 0 {
		return nil
	}
	var keep int
	if err := tx.QueryRowContext(ctx, `SELECT store_images FROM applications WHERE id = ?`, face.AppID).Scan(&keep); err != nil {
		return fmt.Errorf("sqlite: store images setting: %w", err)
	}
	if keep == 0 {
		return nil
	}
	for _, img := range images {
		id := uuid.NewString()
		sealed, err := crypt.Seal(ak.key, img, crypt.AAD("face-image", face.AppID, face.FacialID, id))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO face_images (id, facial_id, app_id, image_sealed, created_at)
			VALUES (?, ?, ?, ?, ?)`, id, face.FacialID, face.AppID, sealed, ms(face.EnrolledAt)); err != nil {
			return fmt.Errorf("sqlite: store image: %w", err)
		}
	}
	return nil
}

// Collection returns the application's collection with its policy and size.
// ENOTFOUND when the application does not exist.
func (db *DB) Collection(ctx context.Context, appID string) (*likeness.Collection, error) {
	var (
		c       likeness.Collection
		ret     sql.NullInt64
		store   int
		created int64
	)
	err := db.r.QueryRowContext(ctx, `SELECT a.collection_id, a.id, a.collection_name, a.retention_days, a.store_images, a.created_at,
		(SELECT count(*) FROM faces f WHERE f.app_id = a.id) FROM applications a WHERE a.id = ?`, appID).
		Scan(&c.ID, &c.AppID, &c.Name, &ret, &store, &created, &c.FaceCount)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "Collection not found.")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: collection: %w", err)
	}
	if ret.Valid {
		d := int(ret.Int64)
		c.RetentionDays = &d
	}
	c.StoreImages, c.CreatedAt = store == 1, fromMS(created)
	return &c, nil
}

// CollectionPatch is likeness.CollectionPatch.
type CollectionPatch = likeness.CollectionPatch

// UpdateCollection applies a patch and audits it. EINVALID for a bad value.
func (db *DB) UpdateCollection(ctx context.Context, appID string, p CollectionPatch) (*likeness.Collection, error) {
	details := map[string]any{}
	if p.Name != nil {
		n := strings.TrimSpace(*p.Name)
		if n == "" || utf8.RuneCountInString(n) > MaxAppNameLen {
			return nil, likeness.Errorf(likeness.EINVALID, "name must be 1 to %d characters.", MaxAppNameLen)
		}
		p.Name, details["name"] = &n, n
	}
	if p.RetentionDays != nil && (*p.RetentionDays < 1 || *p.RetentionDays > MaxRetentionDays) {
		return nil, likeness.Errorf(likeness.EINVALID, "retentionDays must be null or 1 to %d.", MaxRetentionDays)
	}
	if p.RetentionDays != nil {
		details["retentionDays"] = *p.RetentionDays
	}
	if p.ClearRetention {
		details["retentionDays"] = nil
	}
	if p.StoreImages != nil {
		details["storeImages"] = *p.StoreImages
	}
	err := db.update(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM applications WHERE id = ?`, appID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return likeness.Errorf(likeness.ENOTFOUND, "Collection not found.")
			}
			return err
		}
		if p.Name != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE applications SET collection_name = ? WHERE id = ?`, *p.Name, appID); err != nil {
				return err
			}
		}
		if p.RetentionDays != nil || p.ClearRetention {
			var v sql.NullInt64
			if p.RetentionDays != nil && !p.ClearRetention {
				v = sql.NullInt64{Int64: int64(*p.RetentionDays), Valid: true}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE applications SET retention_days = ? WHERE id = ?`, v, appID); err != nil {
				return err
			}
		}
		if p.StoreImages != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE applications SET store_images = ? WHERE id = ?`, boolInt(*p.StoreImages), appID); err != nil {
				return err
			}
		}
		raw, _ := json.Marshal(details)
		return db.auditTx(ctx, tx, likeness.AuditEntry{Action: "collection.updated", AppID: appID, Details: raw})
	})
	if err != nil {
		return nil, err
	}
	return db.Collection(ctx, appID)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Principal is likeness.Principal.
type Principal = likeness.Principal

// Authenticate returns the application and key an API key belongs to (see
// VerifyAPIKey for the rules). EUNAUTHORIZED, with one message, otherwise.
func (db *DB) Authenticate(ctx context.Context, key string) (*Principal, error) {
	app, keyID, err := db.verifyAPIKey(ctx, key)
	if err != nil {
		return nil, err
	}
	k, err := db.apiKey(ctx, app.ID, keyID)
	if err != nil {
		return nil, err
	}
	return &Principal{App: app, Key: k}, nil
}

func (db *DB) apiKey(ctx context.Context, appID, keyID string) (*APIKey, error) {
	keys, err := db.ListAPIKeys(ctx, appID)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.ID == keyID {
			return k, nil
		}
	}
	return nil, likeness.Errorf(likeness.ENOTFOUND, "API key not found.")
}

// FaceListing is likeness.FaceListing.
type FaceListing = likeness.FaceListing

// ListFaces returns the application's faces, newest first, optionally only
// those with an external ID, a page at a time. The cursor is opaque.
func (db *DB) ListFaces(ctx context.Context, appID, externalID, cursor string, limit int) (*FaceListing, error) {
	if limit < 1 || limit > 100 {
		limit = 50
	}
	q := `SELECT facial_id, app_id, coalesce(external_id, ''), payload_sealed, consent_id, enrolled_at, last_auth_at
		FROM faces WHERE app_id = ?`
	args := []any{appID}
	if externalID != "" {
		q += ` AND external_id = ?`
		args = append(args, externalID)
	}
	if cursor != "" {
		n, id, ok := parseCursor(cursor)
		if !ok {
			return nil, likeness.Errorf(likeness.EINVALID, "The cursor is not valid.")
		}
		q += ` AND (enrolled_at < ? OR (enrolled_at = ? AND facial_id < ?))`
		args = append(args, n, n, id)
	}
	q += ` ORDER BY enrolled_at DESC, facial_id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list faces: %w", err)
	}
	defer rows.Close()
	ak, err := db.appKey(ctx, appID)
	if err != nil {
		return nil, err
	}
	out := &FaceListing{Faces: []*likeness.Face{}}
	for rows.Next() {
		f, err := db.scanFace(rows, ak)
		if err != nil {
			return nil, err
		}
		out.Faces = append(out.Faces, f)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out.Faces) > limit {
		out.Faces = out.Faces[:limit]
		last := out.Faces[limit-1]
		out.NextCursor = faceCursor(ms(last.EnrolledAt), last.FacialID)
	}
	return out, nil
}

// faceCursor encodes a listing position: enrollment time (ms) and Facial ID.
func faceCursor(at int64, facialID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + "|" + facialID))
}

// parseCursor decodes a cursor made by faceCursor, and only such a cursor:
// a non-negative time, a UUID, and exactly the encoding faceCursor writes
// (no padding, no stray bits, no other alphabet).
func parseCursor(cursor string) (int64, string, bool) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil {
		return 0, "", false
	}
	at, id, ok := strings.Cut(string(raw), "|")
	n, perr := strconv.ParseInt(at, 10, 64)
	if !ok || perr != nil || n < 0 {
		return 0, "", false
	}
	if u, err := uuid.Parse(id); err != nil || u.String() != id || faceCursor(n, id) != cursor {
		return 0, "", false
	}
	return n, id, true
}

// scanFace reads the columns selected by ListFaces.
func (db *DB) scanFace(row interface{ Scan(...any) error }, ak appKey) (*likeness.Face, error) {
	var (
		f        likeness.Face
		sealed   []byte
		enrolled int64
		auth     sql.NullInt64
	)
	if err := row.Scan(&f.FacialID, &f.AppID, &f.ExternalID, &sealed, &f.ConsentID, &enrolled, &auth); err != nil {
		return nil, fmt.Errorf("sqlite: face: %w", err)
	}
	f.EnrolledAt, f.LastAuthAt = fromMS(enrolled), nullTime(auth)
	if sealed != nil {
		p, err := crypt.Open(ak.key, sealed, payloadAAD(f.AppID, f.FacialID))
		if err != nil {
			return nil, fmt.Errorf("sqlite: face %s payload: %w", f.FacialID, err)
		}
		f.Payload = p
	}
	return &f, nil
}

// FacePatch is likeness.FacePatch.
type FacePatch = likeness.FacePatch

// UpdateFace applies a patch and audits it. ENOTFOUND when the face is not in
// this application.
func (db *DB) UpdateFace(ctx context.Context, appID, facialID string, p FacePatch) (*likeness.Face, error) {
	if p.ExternalID != nil && (len(*p.ExternalID) > MaxExternalID || !utf8.ValidString(*p.ExternalID)) {
		return nil, likeness.Errorf(likeness.EINVALID, "externalId must be valid UTF-8 of at most %d bytes.", MaxExternalID)
	}
	if len(p.Payload) > likeness.MaxPayloadBytes {
		return nil, likeness.Errorf(likeness.ETOOLARGE, "metadata is larger than %d bytes.", likeness.MaxPayloadBytes)
	}
	if len(p.Payload) > 0 && !json.Valid(p.Payload) {
		return nil, likeness.Errorf(likeness.EINVALID, "metadata is not valid JSON.")
	}
	ak, err := db.appKey(ctx, appID)
	if err != nil {
		return nil, err
	}
	changed := []string{}
	err = db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE faces SET updated_at = ? WHERE app_id = ? AND facial_id = ?`,
			ms(db.nowTime()), appID, facialID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return likeness.Errorf(likeness.ENOTFOUND, "Face not found.")
		}
		if p.ExternalID != nil {
			var v sql.NullString
			if *p.ExternalID != "" {
				v = sql.NullString{String: *p.ExternalID, Valid: true}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE faces SET external_id = ? WHERE facial_id = ?`, v, facialID); err != nil {
				return err
			}
			changed = append(changed, "externalId")
		}
		if p.ClearPayload || len(p.Payload) > 0 {
			var sealed []byte
			if !p.ClearPayload && string(p.Payload) != "null" {
				if sealed, err = crypt.Seal(ak.key, p.Payload, payloadAAD(appID, facialID)); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE faces SET payload_sealed = ? WHERE facial_id = ?`, sealed, facialID); err != nil {
				return err
			}
			changed = append(changed, "payload")
		}
		raw, _ := json.Marshal(map[string]any{"changed": changed})
		return db.auditTx(ctx, tx, likeness.AuditEntry{Action: "facialid.updated", AppID: appID, Target: facialID, Details: raw})
	})
	if err != nil {
		return nil, err
	}
	return db.Face(ctx, appID, facialID)
}

// DeleteFacesByExternalID erases every face with that external ID in the
// application (templates, images, index entries, payload) and returns how
// many.
func (db *DB) DeleteFacesByExternalID(ctx context.Context, appID, externalID, reason string) (int, error) {
	if externalID == "" {
		return 0, likeness.Errorf(likeness.EINVALID, "externalId is required.")
	}
	return db.deleteFacesWhere(ctx, appID, reason, `app_id = ? AND external_id = ?`, appID, externalID)
}

// deleteFacesWhere erases the matching faces of one application in one
// transaction, each with its audit entry and event, then from the index.
func (db *DB) deleteFacesWhere(ctx context.Context, appID, reason, where string, args ...any) (int, error) {
	ak, err := db.appKey(ctx, appID)
	if err != nil {
		return 0, err
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	var ids []string
	err = db.eraseLocked(ctx, func(tx *sql.Tx) error {
		ids = ids[:0]
		rows, err := tx.QueryContext(ctx, `SELECT facial_id, coalesce(external_id, '') FROM faces WHERE `+where, args...)
		if err != nil {
			return err
		}
		type victim struct{ id, ext string }
		var vs []victim
		for rows.Next() {
			var v victim
			if err := rows.Scan(&v.id, &v.ext); err != nil {
				rows.Close()
				return err
			}
			vs = append(vs, v)
		}
		rows.Close()
		for _, v := range vs {
			typ := likeness.EventDeleted
			if reason == likeness.ReasonRetention {
				typ = likeness.EventPurged
			}
			if err := db.changeTx(ctx, tx, likeness.Event{Type: typ, AppID: appID, FacialID: v.id, ExternalID: v.ext,
				Reason: reason}, map[string]any{"reason": reason}); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM faces WHERE facial_id = ?`, v.id); err != nil {
				return err
			}
			ids = append(ids, v.id)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		db.index.Remove(ak.collection, id)
	}
	if len(ids) > 0 {
		db.checkpoint(ctx)
	}
	return len(ids), nil
}

// PurgeExpired erases, in every collection with a retention period, the
// faces enrolled longer ago than it; each erasure is audited and emits
// facialid.purged. It returns how many faces it erased. With several
// replicas on PostgreSQL one of them purges at a time; the others return 0.
func (db *DB) PurgeExpired(ctx context.Context) (int, error) {
	n := 0
	_, err := db.tryMaintenance(ctx, func() error {
		var err error
		n, err = db.purgeExpired(ctx)
		return errors.Join(err, db.purgeFeed(ctx))
	})
	return n, err
}

// purgeExpired is PurgeExpired on one replica at a time.
func (db *DB) purgeExpired(ctx context.Context) (int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, retention_days FROM applications
		WHERE retention_days IS NOT NULL AND data_key_wrapped IS NOT NULL`)
	if err != nil {
		return 0, fmt.Errorf("sqlite: retention: %w", err)
	}
	type policy struct {
		app  string
		days int
	}
	var ps []policy
	for rows.Next() {
		var p policy
		if err := rows.Scan(&p.app, &p.days); err != nil {
			rows.Close()
			return 0, err
		}
		ps = append(ps, p)
	}
	rows.Close()
	ctx = likeness.WithActor(ctx, "system:retention")
	total := 0
	for _, p := range ps {
		cutoff := db.nowTime().Add(-time.Duration(p.days) * 24 * time.Hour)
		n, err := db.deleteFacesWhere(ctx, p.app, likeness.ReasonRetention, `app_id = ? AND enrolled_at < ?`, p.app, ms(cutoff))
		total += n
		if err != nil {
			return total, err
		}
	}
	db.ensureReserve(ctx) // made again if a full disk used it
	return total, nil
}

// FaceExtras is likeness.FaceExtras.
type FaceExtras = likeness.FaceExtras

// FaceExtras returns whether a face has a PIN and how many images are kept.
func (db *DB) FaceExtras(ctx context.Context, appID, facialID string) (*FaceExtras, error) {
	var x FaceExtras
	var pin sql.NullString
	err := db.r.QueryRowContext(ctx, `SELECT pin_hash, (SELECT count(*) FROM face_images i WHERE i.facial_id = f.facial_id)
		FROM faces f WHERE app_id = ? AND facial_id = ?`, appID, facialID).Scan(&pin, &x.Images)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "Face not found.")
	}
	if err != nil {
		return nil, err
	}
	x.HasPIN, x.PINHash = pin.Valid, pin.String
	return &x, nil
}

// CreateKey adds an API key with a role and audits it, in one transaction;
// the key is returned once. ENOTFOUND when the application does not exist.
func (db *DB) CreateKey(ctx context.Context, appID, role string) (*APIKey, string, error) {
	if role != RoleOwner && role != RoleMember {
		return nil, "", likeness.Errorf(likeness.EINVALID, "role must be owner or member.")
	}
	key, row := newAPIKey(appID, db.nowTime())
	row.Role = role
	err := db.update(ctx, func(tx *sql.Tx) error {
		if err := insertAPIKey(ctx, tx, row); err != nil {
			return err
		}
		raw, _ := json.Marshal(map[string]string{"role": role, "prefix": row.Prefix})
		return db.auditTx(ctx, tx, likeness.AuditEntry{Action: "apikey.created", AppID: appID, Target: row.ID, Details: raw})
	})
	if isForeignKeyViolation(err) {
		return nil, "", likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
	}
	if err != nil {
		return nil, "", err
	}
	k := row.APIKey
	return &k, key, nil
}

// RevokeKey revokes an API key and audits it, in one transaction. ENOTFOUND
// when the application has no such key that is not already revoked.
func (db *DB) RevokeKey(ctx context.Context, appID, keyID string) error {
	return db.update(ctx, func(tx *sql.Tx) error {
		if err := revokeKeyTx(ctx, tx, appID, keyID, ms(db.nowTime())); err != nil {
			return err
		}
		return db.auditTx(ctx, tx, likeness.AuditEntry{Action: "apikey.revoked", AppID: appID, Target: keyID})
	})
}

// DeleteApp deletes an application and crypto-shreds its data: its data key
// is destroyed with the row, so any copy of its sealed templates, images and
// payloads (backups, WAL, freed pages) can no longer be opened.
func (db *DB) DeleteApp(ctx context.Context, appID string) error {
	ak, err := db.appKey(ctx, appID)
	if err != nil {
		return err
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	err = db.updateLocked(ctx, func(tx *sql.Tx) error {
		var org, pub string
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(org_id, ''), public_id FROM applications WHERE id = ?`, appID).Scan(&org, &pub); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE applications SET data_key_wrapped = NULL WHERE id = ?`, appID); err != nil {
			return err
		}
		for _, t := range []string{"face_images", "faces", "consent_records", "notices", "api_keys", "webhook_endpoints"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE app_id = ?`, appID); err != nil {
				return fmt.Errorf("sqlite: delete app %s: %w", t, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM applications WHERE id = ?`, appID); err != nil {
			return fmt.Errorf("sqlite: delete app: %w", err)
		}
		return db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: org, Action: "application.deleted", AppID: appID, Target: pub})
	})
	if err != nil {
		return err
	}
	db.index.Drop(ak.collection)
	db.mu.Lock()
	clear(db.apps[appID].key)
	delete(db.apps, appID)
	db.mu.Unlock()
	db.checkpoint(ctx)
	return nil
}

// UsageRecord is likeness.UsageRecord.
type UsageRecord = likeness.UsageRecord

// AddUsage adds aggregated usage records.
func (db *DB) AddUsage(ctx context.Context, recs []UsageRecord) error {
	if len(recs) == 0 {
		return nil
	}
	return db.update(ctx, func(tx *sql.Tx) error {
		for _, r := range recs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO usage_records (key_id, app_id, day, route, status, count, total_ms)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_id, day, route, status)
				DO UPDATE SET count = usage_records.count + excluded.count, total_ms = usage_records.total_ms + excluded.total_ms`,
				r.KeyID, r.AppID, r.Day.Unix()/86400, r.Route, r.Status, r.Count, r.TotalMs); err != nil {
				return fmt.Errorf("sqlite: usage: %w", err)
			}
		}
		return nil
	})
}

// Usage returns an application's usage records since a day, oldest first.
func (db *DB) Usage(ctx context.Context, appID string, since time.Time) ([]UsageRecord, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT key_id, day, route, status, count, total_ms FROM usage_records
		WHERE app_id = ? AND day >= ? ORDER BY day, key_id, route, status`, appID, since.Unix()/86400)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []UsageRecord{}
	for rows.Next() {
		var r UsageRecord
		var day int64
		if err := rows.Scan(&r.KeyID, &day, &r.Route, &r.Status, &r.Count, &r.TotalMs); err != nil {
			return nil, err
		}
		r.AppID, r.Day = appID, time.Unix(day*86400, 0).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// PurgeUsage deletes usage records older than the cutoff.
func (db *DB) PurgeUsage(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM usage_records WHERE day < ?`, before.Unix()/86400)
		if err == nil {
			n, _ = res.RowsAffected()
		}
		return err
	})
	return n, err
}

// Export is likeness.Export.
type Export = likeness.Export

// ExportFace is likeness.ExportFace.
type ExportFace = likeness.ExportFace

// ExportConsent is likeness.ExportConsent.
type ExportConsent = likeness.ExportConsent

// ExportNotice is likeness.ExportNotice.
type ExportNotice = likeness.ExportNotice

// ExportApp returns the application's data for portability, and audits it.
func (db *DB) ExportApp(ctx context.Context, appID string) (*Export, error) {
	app, err := db.AppByID(ctx, appID)
	if err != nil {
		return nil, err
	}
	col, err := db.Collection(ctx, appID)
	if err != nil {
		return nil, err
	}
	x := &Export{Faces: []ExportFace{}, ConsentRecords: []ExportConsent{}, Notices: []ExportNotice{}, ExportedAt: db.nowTime()}
	x.Application.PublicID, x.Application.Name, x.Application.Origins, x.Application.CreatedAt = app.PublicID, app.Name, app.Origins, app.CreatedAt
	x.Collection.ID, x.Collection.Name, x.Collection.RetentionDays, x.Collection.StoreImages = col.ID, col.Name, col.RetentionDays, col.StoreImages
	cursor := ""
	for {
		page, err := db.ListFaces(ctx, appID, "", cursor, 100)
		if err != nil {
			return nil, err
		}
		for _, f := range page.Faces {
			x.Faces = append(x.Faces, ExportFace{FacialID: f.FacialID, ExternalID: f.ExternalID, Metadata: f.Payload,
				ConsentID: f.ConsentID, EnrolledAt: f.EnrolledAt, LastAuthAt: f.LastAuthAt})
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, kind, notice_version, notice_sha256, locale, method, obtained_at, created_at
		FROM consent_records WHERE app_id = ? ORDER BY created_at, id`, appID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var c ExportConsent
		var obtained sql.NullInt64
		var created int64
		if err := rows.Scan(&c.ID, &c.Kind, &c.NoticeVersion, &c.NoticeSHA256, &c.Locale, &c.Method, &obtained, &created); err != nil {
			rows.Close()
			return nil, err
		}
		c.ObtainedAt, c.CreatedAt = nullTime(obtained), fromMS(created)
		x.ConsentRecords = append(x.ConsentRecords, c)
	}
	rows.Close()
	nrows, err := db.r.QueryContext(ctx, `SELECT version, locale, title, text, sha256, created_at FROM notices
		WHERE app_id = ? ORDER BY locale, version`, appID)
	if err != nil {
		return nil, err
	}
	defer nrows.Close()
	for nrows.Next() {
		var n ExportNotice
		var created int64
		if err := nrows.Scan(&n.Version, &n.Locale, &n.Title, &n.Text, &n.SHA256, &created); err != nil {
			return nil, err
		}
		n.CreatedAt = fromMS(created)
		x.Notices = append(x.Notices, n)
	}
	if err := nrows.Err(); err != nil {
		return nil, err
	}
	return x, db.Audit(ctx, likeness.AuditEntry{Action: "application.exported", AppID: appID})
}
