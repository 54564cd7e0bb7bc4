package sqlite

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

// SigningKey returns the server's current ES256 (P-256) key for tokens and
// its key ID (the RFC 7638 JWK thumbprint), creating and storing it, sealed
// with the master key, on first use. It reads which key is current on every
// call, so a rotation by another process (`likeness keys rotate`) takes
// effect at once; keys are unsealed once and kept. Callers must not modify
// the key.
func (db *DB) SigningKey(ctx context.Context) (*ecdsa.PrivateKey, string, error) {
	var kid string
	var sealed []byte
	err := db.r.QueryRowContext(ctx, `SELECT kid, private_key_sealed FROM signing_keys
		WHERE retired_at IS NULL AND alg = 'ES256' ORDER BY created_at DESC, kid LIMIT 1`).Scan(&kid, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return db.newSigningKey(ctx, false, 0)
	}
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: signing key: %w", err)
	}
	k, err := db.unsealSigningKey(kid, sealed)
	if err != nil {
		return nil, "", err
	}
	return k, kid, nil
}

// unsealSigningKey opens a stored key, or returns it from memory.
func (db *DB) unsealSigningKey(kid string, sealed []byte) (*ecdsa.PrivateKey, error) {
	db.sigMu.Lock()
	defer db.sigMu.Unlock()
	if k, ok := db.sigKeys[kid]; ok {
		return k, nil
	}
	der, err := crypt.Open(db.master, sealed, signingKeyAAD(kid))
	if err != nil {
		return nil, fmt.Errorf("sqlite: signing key %s: %w", kid, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("sqlite: signing key %s: %w", kid, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("sqlite: signing key %s is not a P-256 key", kid)
	}
	if db.sigKeys == nil {
		db.sigKeys = map[string]*ecdsa.PrivateKey{}
	}
	db.sigKeys[kid] = ek
	return ek, nil
}

// newSigningKey makes and stores a new current key. With rotate, the keys
// that signed until now are retired (they stay published for
// likeness.KeyGrace) and the rotation is audited; without it, a key is made
// only when there is no current key (another caller may have made one).
//
// With rotate and olderThan > 0, the rotation happens only if the current
// key is at least olderThan old when the transaction runs: replicas that
// all found the key old rotate it once.
func (db *DB) newSigningKey(ctx context.Context, rotate bool, olderThan time.Duration) (*ecdsa.PrivateKey, string, error) {
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: signing key: %w", err)
	}
	kid, err := Thumbprint(&ek.PublicKey)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(ek)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: signing key: %w", err)
	}
	sealed, err := crypt.Seal(db.master, der, signingKeyAAD(kid))
	clear(der)
	if err != nil {
		return nil, "", err
	}
	var current string
	err = db.update(ctx, func(tx *sql.Tx) error {
		now := ms(db.nowTime())
		var old []string
		rows, err := tx.QueryContext(ctx, `SELECT kid FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid`)
		if err != nil {
			return fmt.Errorf("sqlite: signing key: %w", err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			old = append(old, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if !rotate && len(old) > 0 {
			current = old[0]
			return nil
		}
		if rotate && olderThan > 0 && len(old) > 0 {
			var newest int64
			if err := tx.QueryRowContext(ctx, `SELECT created_at FROM signing_keys WHERE kid = ?`, old[0]).Scan(&newest); err != nil {
				return err
			}
			if db.now().Sub(fromMS(newest)) < olderThan {
				current = old[0] // rotated meanwhile by another server
				return nil
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL`, now); err != nil {
			return fmt.Errorf("sqlite: signing key: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, alg, private_key_sealed, created_at)
			VALUES (?, 'ES256', ?, ?)`, kid, sealed, now); err != nil {
			return fmt.Errorf("sqlite: signing key: %w", err)
		}
		if !rotate {
			return nil
		}
		details, _ := json.Marshal(map[string]any{"kid": kid, "retired": old})
		return db.auditTx(ctx, tx, likeness.AuditEntry{Action: "signing_key.rotated", Target: kid, Details: details})
	})
	if err != nil {
		return nil, "", err
	}
	if current != "" { // another caller made the first key meanwhile
		return db.SigningKey(ctx)
	}
	db.sigMu.Lock()
	if db.sigKeys == nil {
		db.sigKeys = map[string]*ecdsa.PrivateKey{}
	}
	db.sigKeys[kid] = ek
	db.sigMu.Unlock()
	return ek, kid, nil
}

// RotateSigningKey makes a new signing key, which signs from now on, and
// retires the current one: it stays in VerificationKeys until every token
// it signed has expired (likeness.KeyGrace), then PurgeSigningKeys removes
// it. Audited as signing_key.rotated. It returns the new key ID.
func (db *DB) RotateSigningKey(ctx context.Context) (string, error) {
	_, kid, err := db.newSigningKey(ctx, true, 0)
	return kid, err
}

// RotateSigningKeyIfOlder rotates the signing key when the current one was
// made maxAge ago or longer (or there is none). It reports whether the
// current key changed (here, or meanwhile on another server: replicas that
// find the key old at once rotate it once).
func (db *DB) RotateSigningKeyIfOlder(ctx context.Context, maxAge time.Duration) (string, bool, error) {
	var c sql.NullInt64
	var cur sql.NullString
	if err := db.r.QueryRowContext(ctx, `SELECT created_at, kid FROM signing_keys WHERE retired_at IS NULL
		ORDER BY created_at DESC, kid LIMIT 1`).Scan(&c, &cur); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", false, fmt.Errorf("sqlite: signing key: %w", err)
	}
	if c.Valid && db.now().Sub(fromMS(c.Int64)) < maxAge {
		return "", false, nil
	}
	_, kid, err := db.newSigningKey(ctx, true, maxAge)
	if err != nil {
		return "", false, err
	}
	return kid, kid != cur.String, nil
}

// VerificationKeys returns the public keys that verify tokens: the current
// key and those retired after retiredAfter, newest first.
func (db *DB) VerificationKeys(ctx context.Context, retiredAfter time.Time) ([]likeness.VerificationKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT kid, private_key_sealed, created_at, retired_at FROM signing_keys
		WHERE alg = 'ES256' AND (retired_at IS NULL OR retired_at > ?) ORDER BY created_at DESC, kid`, ms(retiredAfter))
	if err != nil {
		return nil, fmt.Errorf("sqlite: verification keys: %w", err)
	}
	defer rows.Close()
	var out []likeness.VerificationKey
	for rows.Next() {
		var (
			kid     string
			sealed  []byte
			created int64
			retired sql.NullInt64
		)
		if err := rows.Scan(&kid, &sealed, &created, &retired); err != nil {
			return nil, fmt.Errorf("sqlite: verification keys: %w", err)
		}
		k, err := db.unsealSigningKey(kid, sealed)
		if err != nil {
			return nil, err
		}
		out = append(out, likeness.VerificationKey{KID: kid, Key: &k.PublicKey, CreatedAt: fromMS(created), RetiredAt: nullTime(retired)})
	}
	return out, rows.Err()
}

// PurgeSigningKeys deletes the keys retired before retiredBefore (their
// tokens have all expired), private parts included, and returns how many.
func (db *DB) PurgeSigningKeys(ctx context.Context, retiredBefore time.Time) (int, error) {
	var n int64
	err := db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= ?`, ms(retiredBefore))
		if err != nil {
			return fmt.Errorf("sqlite: purge signing keys: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil || n == 0 {
		return int(n), err
	}
	db.sigMu.Lock()
	db.sigKeys = nil // unsealed again on demand; purged keys are gone
	db.sigMu.Unlock()
	return int(n), nil
}

// Thumbprint returns the RFC 7638 JWK SHA-256 thumbprint of a P-256 public
// key, base64url without padding: the key ID used in JWT headers and JWKS.
func Thumbprint(pub *ecdsa.PublicKey) (string, error) {
	b, err := pub.Bytes() // 0x04 | X | Y
	if err != nil || len(b) != 65 || pub.Curve != elliptic.P256() {
		return "", fmt.Errorf("sqlite: thumbprint: not a P-256 public key")
	}
	enc := base64.RawURLEncoding
	// Members in lexicographic order, no whitespace (RFC 7638 §3.2).
	jwk := `{"crv":"P-256","kty":"EC","x":"` + enc.EncodeToString(b[1:33]) + `","y":"` + enc.EncodeToString(b[33:]) + `"}`
	sum := sha256.Sum256([]byte(jwk))
	return enc.EncodeToString(sum[:]), nil
}

func signingKeyAAD(kid string) []byte { return crypt.AAD("signing-key", kid) }
