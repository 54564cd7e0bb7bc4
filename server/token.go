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

	"github.com/likeness/likeness"
)

// KeySource provides the server's ES256 signing keys.
type KeySource interface {
	// SigningKey returns the current key and its key ID, making one when
	// there is none; it follows rotations made by other processes.
	SigningKey(ctx context.Context) (*ecdsa.PrivateKey, string, error)
	// VerificationKeys returns the current key and the keys retired after
	// retiredAfter: those whose tokens may still be valid.
	VerificationKeys(ctx context.Context, retiredAfter time.Time) ([]likeness.VerificationKey, error)
}

// ResultClaims are the claims of a token: a site's result token (purpose
// "result", audience the application's public ID) or a privacy page token
// (purpose "privacy", audience the privacy page's URL).
type ResultClaims struct {
	Op      string `json:"op"` // "enroll" or "authenticate"
	Purpose string `json:"purpose"`
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
		Iss     string `json:"iss"`
		Sub     string `json:"sub"`
		Aud     string `json:"aud"`
		Iat     int64  `json:"iat"`
		Exp     int64  `json:"exp"`
		Jti     string `json:"jti"`
		Op      string `json:"op"`
		Purpose string `json:"purpose"`
		Liv     string `json:"liveness,omitempty"`
	}{c.Issuer, c.Subject, aud, c.IssuedAt.Unix(), c.ExpiresAt.Unix(), c.ID, c.Op, c.Purpose, c.Liveness})
}

// signer issues tokens with the current key of its KeySource.
type signer struct {
	ctx    context.Context
	keys   KeySource
	issuer string
	now    func() time.Time
}

// issue returns a signed result token for the site saying that facialID did
// op in the application whose public ID is aud, checked at liveness level
// liveness.
func (s *signer) issue(aud, facialID, op, liveness string) (string, error) {
	return s.sign(aud, facialID, op, likeness.PurposeResult, liveness, likeness.ResultTokenTTL)
}

// issuePrivacy returns a token for the privacy page of the application
// publicID only: it says that facialID authenticated from that page.
func (s *signer) issuePrivacy(publicID, facialID, liveness string) (string, error) {
	return s.sign(likeness.PrivacyAudience(s.issuer, publicID), facialID, opAuthenticate, likeness.PurposePrivacy, liveness,
		likeness.PrivacyTokenTTL)
}

func (s *signer) sign(aud, facialID, op, purpose, liveness string, ttl time.Duration) (string, error) {
	key, kid, err := s.keys.SigningKey(s.ctx)
	if err != nil {
		return "", err
	}
	now := s.now()
	claims := ResultClaims{
		Op:       op,
		Purpose:  purpose,
		Liveness: liveness,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   facialID,
			Audience:  jwt.ClaimStrings{aud},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        uuid.NewString(),
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = kid
	return t.SignedString(key)
}

// token issues the session's token for a successful operation: a privacy
// page token when the privacy page started the session, else the site's.
func (ss *session) token(facialID, op string) (string, error) {
	if ss.purpose == likeness.PurposePrivacy && op == opAuthenticate {
		return ss.s.signer.issuePrivacy(ss.app.PublicID, facialID, ss.set.Liveness)
	}
	return ss.s.signer.issue(ss.app.PublicID, facialID, op, ss.set.Liveness)
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

// jwks lists the current key and every retired key whose tokens may still
// be valid (retired less than likeness.KeyGrace ago).
func (s *signer) jwks(ctx context.Context) (map[string][]jwk, error) {
	keys, err := s.keys.VerificationKeys(ctx, s.now().Add(-likeness.KeyGrace))
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding.EncodeToString
	out := []jwk{}
	for _, k := range keys {
		pt, err := k.Key.Bytes() // 0x04 || X || Y
		if err != nil || len(pt) != 65 {
			return nil, fmt.Errorf("encode public key %s: %v", k.KID, err)
		}
		out = append(out, jwk{Kty: "EC", Crv: "P-256", X: enc(pt[1:33]), Y: enc(pt[33:]), Kid: k.KID, Use: "sig", Alg: "ES256"})
	}
	return map[string][]jwk{"keys": out}, nil
}

func (s *Server) handleJWKS(c echo.Context) error {
	// Short caching: verifiers refetch on an unknown kid anyway, and a
	// retired key should leave caches soon after it leaves the set.
	c.Response().Header().Set("Cache-Control", "public, max-age=60")
	c.Response().Header().Set("Access-Control-Allow-Origin", "*") // public keys, no credentials
	keys, err := s.signer.jwks(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, keys)
}
