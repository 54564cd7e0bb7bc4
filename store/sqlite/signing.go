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
	"errors"
	"fmt"

	"github.com/likeness/likeness/crypt"
)

type signingKey struct {
	kid string
	key *ecdsa.PrivateKey
}

// SigningKey returns the server's ES256 (P-256) key for result tokens and its
// key ID (the RFC 7638 JWK thumbprint), creating and storing it, sealed with
// the master key, on first use. Later calls, and later runs, return the same
// key. Callers must not modify it.
func (db *DB) SigningKey(ctx context.Context) (*ecdsa.PrivateKey, string, error) {
	db.sigMu.Lock()
	defer db.sigMu.Unlock()
	if db.sigKey != nil {
		return db.sigKey.key, db.sigKey.kid, nil
	}
	var sk *signingKey
	err := db.update(ctx, func(tx *sql.Tx) error {
		var (
			kid    string
			sealed []byte
		)
		err := tx.QueryRowContext(ctx, `SELECT kid, private_key_sealed FROM signing_keys
			WHERE retired_at IS NULL AND alg = 'ES256' ORDER BY created_at DESC, kid LIMIT 1`).Scan(&kid, &sealed)
		if err == nil {
			der, err := crypt.Open(db.master, sealed, signingKeyAAD(kid))
			if err != nil {
				return fmt.Errorf("sqlite: signing key %s: %w", kid, err)
			}
			k, err := x509.ParsePKCS8PrivateKey(der)
			clear(der)
			if err != nil {
				return fmt.Errorf("sqlite: signing key %s: %w", kid, err)
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok || ek.Curve != elliptic.P256() {
				return fmt.Errorf("sqlite: signing key %s is not a P-256 key", kid)
			}
			sk = &signingKey{kid: kid, key: ek}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: signing key: %w", err)
		}
		ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("sqlite: signing key: %w", err)
		}
		if kid, err = Thumbprint(&ek.PublicKey); err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(ek)
		if err != nil {
			return fmt.Errorf("sqlite: signing key: %w", err)
		}
		sealed, err = crypt.Seal(db.master, der, signingKeyAAD(kid))
		clear(der)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, alg, private_key_sealed, created_at)
			VALUES (?, 'ES256', ?, ?)`, kid, sealed, ms(db.nowTime())); err != nil {
			return fmt.Errorf("sqlite: signing key: %w", err)
		}
		sk = &signingKey{kid: kid, key: ek}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	db.sigKey = sk
	return sk.key, sk.kid, nil
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
