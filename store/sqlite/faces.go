package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/store/vecindex"
)

// Limits on faces.
const (
	MaxTemplateDim = 4096 // components of a template
	MaxExternalID  = 256  // bytes of an external ID
	MaxSearchK     = 1000 // matches one search may return
)

// Enroll stores a face in the application's collection and indexes it. In one
// transaction it checks that the consent record exists for this application
// (else ECONSENT) and inserts the face with a new Facial ID (UUID v4) and the
// template and payload sealed with the application's data key; the index is
// updated after the commit. ENOTFOUND for an unknown application; EINVALID
// for a malformed template (or one whose dimension differs from the
// collection's), payload or external ID; ETOOLARGE for a payload over
// likeness.MaxPayloadBytes.
func (db *DB) Enroll(ctx context.Context, in likeness.Enrollment) (*likeness.Face, error) {
	if in.ConsentID == "" {
		return nil, likeness.Errorf(likeness.ECONSENT, "Consent is required before enrollment.")
	}
	tmpl, err := vecindex.Normalize(in.Template)
	if err != nil || len(tmpl) > MaxTemplateDim {
		return nil, likeness.Errorf(likeness.EINVALID, "Template is not a usable face template.")
	}
	var payload json.RawMessage
	if len(in.Payload) > 0 {
		if len(in.Payload) > likeness.MaxPayloadBytes {
			return nil, likeness.Errorf(likeness.ETOOLARGE, "Payload is larger than %d bytes.", likeness.MaxPayloadBytes)
		}
		if !json.Valid(in.Payload) {
			return nil, likeness.Errorf(likeness.EINVALID, "Payload is not valid JSON.")
		}
		payload = slices.Clone(in.Payload)
	}
	if len(in.ExternalID) > MaxExternalID || !utf8.ValidString(in.ExternalID) {
		return nil, likeness.Errorf(likeness.EINVALID, "External ID must be valid UTF-8 of at most %d bytes.", MaxExternalID)
	}
	ak, err := db.appKey(ctx, in.AppID)
	if err != nil {
		return nil, err
	}

	face := &likeness.Face{
		FacialID:   uuid.New().String(),
		AppID:      in.AppID,
		ExternalID: in.ExternalID,
		Payload:    payload,
		ConsentID:  in.ConsentID,
	}
	plain := encodeTemplate(tmpl)
	sealedTmpl, err := crypt.Seal(ak.key, plain, templateAAD(face.AppID, face.FacialID))
	clear(plain)
	if err != nil {
		return nil, err
	}
	var sealedPayload []byte
	if payload != nil {
		if sealedPayload, err = crypt.Seal(ak.key, payload, payloadAAD(face.AppID, face.FacialID)); err != nil {
			return nil, err
		}
	}
	var externalID sql.NullString
	if in.ExternalID != "" {
		externalID = sql.NullString{String: in.ExternalID, Valid: true}
	}
	var pinHash, pinMac sql.NullString
	if in.PIN != "" {
		h, err := db.hashPIN(ctx, in.PIN)
		if err != nil {
			return nil, err
		}
		m, err := pinMAC(ak.key, in.PIN)
		if err != nil {
			return nil, err
		}
		pinHash, pinMac = sql.NullString{String: h, Valid: true}, sql.NullString{String: m, Valid: true}
	}

	// Hold the writer lock across the transaction and the index update, so
	// that the index changes in the order the database does.
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if d := db.index.Dim(ak.collection); d != 0 && d != len(tmpl) {
		return nil, likeness.Errorf(likeness.EINVALID, "Template dimension does not match the collection's.")
	}
	face.EnrolledAt = db.nowTime()
	err = db.updateLocked(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM consent_records WHERE id = ? AND app_id = ?`,
			in.ConsentID, in.AppID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return likeness.Errorf(likeness.ECONSENT, "No consent record for this enrollment.")
		}
		if err != nil {
			return fmt.Errorf("sqlite: consent check: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO faces
			(facial_id, app_id, external_id, payload_sealed, consent_id, template_sealed, enrolled_at, pin_hash, pin_mac)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			face.FacialID, face.AppID, externalID, sealedPayload, face.ConsentID, sealedTmpl, ms(face.EnrolledAt), pinHash, pinMac)
		if err != nil {
			return fmt.Errorf("sqlite: insert face: %w", err)
		}
		if err := db.storeImagesTx(ctx, tx, ak, face, in.Images); err != nil {
			return err
		}
		if err := db.releaseConsentEventTx(ctx, tx, face.AppID, face.ConsentID); err != nil {
			return err
		}
		if err := db.auditTx(ctx, tx, likeness.AuditEntry{Action: likeness.EventEnrolled, AppID: face.AppID,
			Target: face.FacialID}); err != nil {
			return err
		}
		return db.emitTx(ctx, tx, likeness.Event{Type: likeness.EventEnrolled, AppID: face.AppID, FacialID: face.FacialID,
			ExternalID: face.ExternalID, Payload: payload, ConsentID: face.ConsentID, OccurredAt: face.EnrolledAt})
	})
	if err != nil {
		return nil, err
	}
	if err := db.index.Add(ak.collection, face.FacialID, tmpl); err != nil {
		// Only an unusable vector, checked above; an unreachable index is
		// journaled and retried (vectors.go).
		return nil, fmt.Errorf("sqlite: index face: %w", err)
	}
	clear(tmpl)
	return face, nil
}

// Search returns up to k faces of the application's collection most similar
// to probe, best first. Other applications' faces are never considered.
// EINVALID for k < 1 or a malformed probe, or a probe whose dimension differs
// from the collection's; ENOTFOUND for an unknown application.
func (db *DB) Search(ctx context.Context, appID string, probe []float32, k int) ([]likeness.Match, error) {
	if k < 1 {
		return nil, likeness.Errorf(likeness.EINVALID, "k must be at least 1.")
	}
	k = min(k, MaxSearchK)
	q, err := vecindex.Normalize(probe)
	if err != nil {
		return nil, likeness.Errorf(likeness.EINVALID, "Probe is not a usable face template.")
	}
	ak, err := db.appKey(ctx, appID)
	if err != nil {
		return nil, err
	}
	if d := db.index.Dim(ak.collection); d != 0 && d != len(probe) {
		return nil, likeness.Errorf(likeness.EINVALID, "Probe dimension does not match the collection's.")
	}
	m, err := db.index.search(ctx, ak.collection, probe, k)
	if err != nil {
		return nil, err
	}
	// The index finds the candidates; their similarities (what decisions
	// compare with thresholds) are computed exactly from the sealed
	// templates, which also drops a face the index still holds after its
	// erasure (a crash, an unreachable backend, another replica's feed).
	ids := make([]string, len(m))
	for i, x := range m {
		ids[i] = x.FacialID
	}
	return db.similarities(ctx, appID, ak, ids, q)
}

// Face returns one face of the application, payload decrypted, never the
// template. ENOTFOUND when the application has no such face.
func (db *DB) Face(ctx context.Context, appID, facialID string) (*likeness.Face, error) {
	var (
		face       = likeness.Face{FacialID: facialID, AppID: appID}
		externalID sql.NullString
		sealed     []byte
		enrolled   int64
		lastAuth   sql.NullInt64
	)
	err := db.r.QueryRowContext(ctx, `SELECT external_id, payload_sealed, consent_id, enrolled_at, last_auth_at
		FROM faces WHERE app_id = ? AND facial_id = ?`, appID, facialID).
		Scan(&externalID, &sealed, &face.ConsentID, &enrolled, &lastAuth)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "Face not found.")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: face: %w", err)
	}
	face.ExternalID = externalID.String
	face.EnrolledAt = fromMS(enrolled)
	face.LastAuthAt = nullTime(lastAuth)
	if sealed != nil {
		ak, err := db.appKey(ctx, appID)
		if err != nil {
			return nil, err
		}
		p, err := crypt.Open(ak.key, sealed, payloadAAD(appID, facialID))
		if err != nil {
			return nil, fmt.Errorf("sqlite: face %s payload: %w", facialID, err)
		}
		face.Payload = p
	}
	return &face, nil
}

// TouchAuth records the current time as the face's last successful
// authentication. ENOTFOUND when the application has no such face.
func (db *DB) TouchAuth(ctx context.Context, appID, facialID string) error {
	return db.update(ctx, func(tx *sql.Tx) error {
		now := db.nowTime()
		res, err := tx.ExecContext(ctx, `UPDATE faces SET last_auth_at = ? WHERE app_id = ? AND facial_id = ?`,
			ms(now), appID, facialID)
		if err != nil {
			return fmt.Errorf("sqlite: touch face: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return likeness.Errorf(likeness.ENOTFOUND, "Face not found.")
		}
		return db.emitTx(ctx, tx, likeness.Event{Type: likeness.EventAuthenticated, AppID: appID, FacialID: facialID,
			OccurredAt: now})
	})
}

// DeleteFace erases the face: its row (sealed template and payload) and its
// index entry; SQLite's secure_delete overwrites the freed content and the
// WAL is checkpointed and truncated. It works on a full disk (eraseLocked).
// ENOTFOUND when the application has no such face. The consent record
// stays, as proof.
func (db *DB) DeleteFace(ctx context.Context, appID, facialID, reason string) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	err := db.eraseLocked(ctx, func(tx *sql.Tx) error {
		// Before the row goes: the event may carry the external ID.
		if err := db.emitTx(ctx, tx, likeness.Event{Type: likeness.EventDeleted, AppID: appID, FacialID: facialID,
			Reason: reason}); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM faces WHERE app_id = ? AND facial_id = ?`, appID, facialID)
		if err != nil {
			return fmt.Errorf("sqlite: delete face: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return likeness.Errorf(likeness.ENOTFOUND, "Face not found.")
		}
		details, _ := json.Marshal(map[string]string{"reason": reason})
		if err := db.auditTx(ctx, tx, likeness.AuditEntry{Action: likeness.EventDeleted, AppID: appID,
			Target: facialID, Details: details}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ak, err := db.appKey(ctx, appID); err == nil {
		db.index.Remove(ak.collection, facialID)
	}
	db.checkpoint(ctx)
	return nil
}

// CountFaces returns the number of faces in the application's collection.
func (db *DB) CountFaces(ctx context.Context, appID string) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM faces WHERE app_id = ?`, appID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count faces: %w", err)
	}
	return n, nil
}

// encodeTemplate returns the template as little-endian float32s.
func encodeTemplate(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func decodeTemplate(b []byte) ([]float32, error) {
	n, err := templateDim(b)
	if err != nil {
		return nil, err
	}
	v := make([]float32, n)
	decodeTemplateInto(v, b)
	return v, nil
}

// templateDim is the dimension of the encoded template b (encodeTemplate),
// or an error when b cannot be one.
func templateDim(b []byte) (int, error) {
	if len(b) == 0 || len(b)%4 != 0 {
		return 0, fmt.Errorf("template of %d bytes", len(b))
	}
	return len(b) / 4, nil
}

// decodeTemplateInto decodes the encoded template b into v, of its
// dimension (templateDim).
func decodeTemplateInto(v []float32, b []byte) {
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

func templateAAD(appID, facialID string) []byte {
	return crypt.AAD("face-template", appID, facialID)
}

func payloadAAD(appID, facialID string) []byte {
	return crypt.AAD("face-payload", appID, facialID)
}
