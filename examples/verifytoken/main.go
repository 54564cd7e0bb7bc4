// Command verifytoken shows how a site's backend verifies a Likeness result
// token: signature against the server's JWKS, issuer, audience (your public
// ID), expiry, operation, and single use of the token ID.
//
//	go run ./examples/verifytoken -server https://likeness.example -app app_… -op authenticate TOKEN
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are a result token's claims.
type Claims struct {
	Op      string `json:"op"`
	Purpose string `json:"purpose"` // "result": a token for your site
	jwt.RegisteredClaims
}

// Verifier checks tokens from one Likeness server for one application.
type Verifier struct {
	Server, App string
	mu          sync.Mutex
	keys        map[string]*ecdsa.PublicKey
	seen        map[string]time.Time // jti → expiry: a token is accepted once
}

func (v *Verifier) fetchKeys() error {
	resp, err := http.Get(v.Server + "/.well-known/jwks.json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Crv, X, Y, Kid string } `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return err
	}
	v.keys = map[string]*ecdsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "EC" || k.Crv != "P-256" {
			continue
		}
		x, _ := base64.RawURLEncoding.DecodeString(k.X)
		y, _ := base64.RawURLEncoding.DecodeString(k.Y)
		v.keys[k.Kid] = &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	}
	return nil
}

// Verify returns the Facial ID of a valid, unused token for operation op.
func (v *Verifier) Verify(token, op string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if v.keys[kid] == nil { // unknown key: the server may have rotated; refetch once
			if err := v.fetchKeys(); err != nil {
				return nil, err
			}
		}
		if k := v.keys[kid]; k != nil {
			return k, nil
		}
		return nil, errors.New("unknown key")
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(v.Server), jwt.WithAudience(v.App),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return "", err
	}
	if c.Op != op || c.Purpose != "result" {
		return "", fmt.Errorf("token is for %q (%s), not %q", c.Op, c.Purpose, op)
	}
	now := time.Now()
	for id, exp := range v.seen { // forget tokens that have expired anyway
		if now.After(exp) {
			delete(v.seen, id)
		}
	}
	if _, used := v.seen[c.ID]; used || c.ID == "" {
		return "", errors.New("token already used")
	}
	if v.seen == nil {
		v.seen = map[string]time.Time{}
	}
	v.seen[c.ID] = c.ExpiresAt.Time
	return c.Subject, nil
}

func main() {
	server := flag.String("server", "http://127.0.0.1:8080", "Likeness server URL (the token issuer)")
	app := flag.String("app", "", "your application's public ID (the token audience)")
	op := flag.String("op", "authenticate", "expected operation")
	flag.Parse()
	v := &Verifier{Server: *server, App: *app}
	id, err := v.Verify(flag.Arg(0), *op)
	if err != nil {
		fmt.Fprintln(os.Stderr, "invalid token:", err)
		os.Exit(1)
	}
	fmt.Println("facialId:", id)
}
