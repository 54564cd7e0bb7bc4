package server

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// TokenTTL is how long a result token is valid.
const TokenTTL = 5 * time.Minute

// KeySource provides the server's ES256 signing key and its key ID.
type KeySource interface {
	SigningKey(ctx context.Context) (*ecdsa.PrivateKey, string, error)
}

// ResultClaims are the claims of a result token.
type ResultClaims struct {
	Op string `json:"op"` // "enroll" or "authenticate"
	// Liveness is the liveness level the session was checked at
	// ("standard" or "strict"); the privacy page accepts only "strict".
	Liveness string `json:"liveness,omitempty"`
	jwt.RegisteredClaims
}

// MarshalJSON writes the claims with "aud" as a single string (the
// application's public ID), as documented, rather than golang-jwt's default
// one-element array.
func (c ResultClaims) MarshalJSON() ([]byte, error) {
	aud := ""
	if len(c.Audience) > 0 {
		aud = c.Audience[0]
	}
	return json.Marshal(struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
		Jti string `json:"jti"`
		Op  string `json:"op"`
		Liv string `json:"liveness,omitempty"`
	}{c.Issuer, c.Subject, aud, c.IssuedAt.Unix(), c.ExpiresAt.Unix(), c.ID, c.Op, c.Liveness})
}

// signer issues result tokens.
type signer struct {
	key    *ecdsa.PrivateKey
	kid    string
	issuer string
	now    func() time.Time
}

// issue returns a signed token saying that facialID did op in application
// aud, checked at liveness level liveness.
func (s *signer) issue(aud, facialID, op, liveness string) (string, error) {
	now := s.now()
	claims := ResultClaims{
		Op: op, Liveness: liveness,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   facialID,
			Audience:  jwt.ClaimStrings{aud},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(TokenTTL)),
			ID:        uuid.NewString(),
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = s.kid
	return t.SignedString(s.key)
}

// jwk is one public key in a JWKS document (RFC 7517/7518).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

func (s *signer) jwks() (map[string][]jwk, error) {
	pt, err := s.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil || len(pt) != 65 {
		return nil, fmt.Errorf("encode public key: %v", err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return map[string][]jwk{"keys": {{
		Kty: "EC", Crv: "P-256", X: enc(pt[1:33]), Y: enc(pt[33:]), Kid: s.kid, Use: "sig", Alg: "ES256",
	}}}, nil
}

func (s *Server) handleJWKS(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	c.Response().Header().Set("Access-Control-Allow-Origin", "*") // public keys, no credentials
	keys, err := s.signer.jwks()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, keys)
}
