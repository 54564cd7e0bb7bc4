package sqlite

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/likeness/likeness"
)

// PIN hashing: argon2id with OWASP's minimum parameters (19 MiB, 2 passes,
// one lane), stored in the PHC string format.
const (
	pinMemoryKiB = 19 * 1024
	pinPasses    = 2
	pinLanes     = 1
	pinMinLen    = 4
	pinMaxLen    = 16
)

// ValidPINFormat reports whether pin is 4 to 16 digits.
func ValidPINFormat(pin string) bool {
	return len(pin) >= pinMinLen && len(pin) <= pinMaxLen && strings.Trim(pin, "0123456789") == ""
}

// hashPIN validates a PIN (4 to 16 digits) and returns its argon2id hash,
// computed in the store's hashing pool (EUNAVAILABLE when it stays busy).
func (db *DB) hashPIN(ctx context.Context, pin string) (string, error) {
	if !ValidPINFormat(pin) {
		return "", likeness.Errorf(likeness.EINVALID, "The PIN must be %d to %d digits.", pinMinLen, pinMaxLen)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	var sum []byte
	if err := db.hashing.Do(ctx, func() { sum = argon2.IDKey([]byte(pin), salt, pinPasses, pinMemoryKiB, pinLanes, 32) }); err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, pinMemoryKiB, pinPasses, pinLanes,
		enc.EncodeToString(salt), enc.EncodeToString(sum)), nil
}

// checkPIN reports whether pin matches an argon2id PHC hash, in constant time.
func checkPIN(phc, pin string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 256*1024 || t > 10 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pin), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// pinMAC is a keyed MAC of a PIN under a key derived from the application's
// data key: equal PINs give equal MACs within one application only.
func pinMAC(dataKey []byte, pin string) (string, error) {
	k, err := hkdf.Key(sha256.New, dataKey, nil, "likeness pin mac v1", 32)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(pin))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// SetPIN sets a face's PIN (4 to 16 digits; stored as argon2id and a keyed
// MAC) or removes it with "". ENOTFOUND when the face is not in this
// application; EINVALID for a malformed PIN.
func (db *DB) SetPIN(ctx context.Context, appID, facialID, pin string) error {
	var hash, mac sql.NullString
	if pin != "" {
		h, err := db.hashPIN(ctx, pin)
		if err != nil {
			return err
		}
		ak, err := db.appKey(ctx, appID)
		if err != nil {
			return err
		}
		m, err := pinMAC(ak.key, pin)
		if err != nil {
			return err
		}
		hash, mac = sql.NullString{String: h, Valid: true}, sql.NullString{String: m, Valid: true}
	}
	return db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE faces SET pin_hash = ?, pin_mac = ?, updated_at = ? WHERE app_id = ? AND facial_id = ?`,
			hash, mac, ms(db.nowTime()), appID, facialID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return likeness.Errorf(likeness.ENOTFOUND, "Face not found.")
		}
		return db.auditTx(ctx, tx, likeness.AuditEntry{Action: "facialid.pin_set", AppID: appID, Target: facialID})
	})
}

// CheckPIN reports whether pin is the face's PIN (false when it has none).
func (db *DB) CheckPIN(ctx context.Context, appID, facialID, pin string) (bool, error) {
	var hash sql.NullString
	err := db.r.QueryRowContext(ctx, `SELECT pin_hash FROM faces WHERE app_id = ? AND facial_id = ?`, appID, facialID).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return false, likeness.Errorf(likeness.ENOTFOUND, "Face not found.")
	}
	if err != nil || !hash.Valid {
		return false, err
	}
	var ok bool
	if err := db.hashing.Do(ctx, func() { ok = checkPIN(hash.String, pin) }); err != nil {
		return false, err
	}
	return ok, nil
}

// PINInUse reports whether another face of the application has this PIN.
func (db *DB) PINInUse(ctx context.Context, appID, pin string) (bool, error) {
	ak, err := db.appKey(ctx, appID)
	if err != nil {
		return false, err
	}
	m, err := pinMAC(ak.key, pin)
	if err != nil {
		return false, err
	}
	var n int
	err = db.r.QueryRowContext(ctx, `SELECT count(*) FROM faces WHERE app_id = ? AND pin_mac = ?`, appID, m).Scan(&n)
	return n > 0, err
}
