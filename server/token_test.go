package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/pad"
)

const ownOrigin = "http://likeness.test" // the harness's PublicURL

// dialQuery opens a widget socket with a raw query string.
func (h *harness) dialQuery(query, origin string) (*client, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/widget/ws?publicId=" + h.app.PublicID + "&" + query
	hdr := http.Header{}
	if origin != "" {
		hdr.Set("Origin", origin)
	}
	conn, resp, err := websocket.DefaultDialer.Dial(u, hdr)
	if err != nil {
		return nil, resp, err
	}
	h.t.Cleanup(func() { conn.Close() })
	return &client{t: h.t, conn: conn}, resp, nil
}

// jwks fetches the published keys by key ID.
func (h *harness) jwks() map[string]*ecdsa.PublicKey {
	h.t.Helper()
	resp, err := http.Get(h.ts.URL + "/.well-known/jwks.json")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Crv, X, Y, Kid, Alg string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		h.t.Fatal(err)
	}
	out := map[string]*ecdsa.PublicKey{}
	for _, k := range set.Keys {
		x, _ := base64.RawURLEncoding.DecodeString(k.X)
		y, _ := base64.RawURLEncoding.DecodeString(k.Y)
		out[k.Kid] = &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	}
	return out
}

// parse verifies a token against the published keys, at the harness's time.
func (h *harness) parse(token, aud string) (*ResultClaims, string, error) {
	keys := h.jwks()
	var cl ResultClaims
	var kid string
	_, err := jwt.ParseWithClaims(token, &cl, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(aud), jwt.WithIssuer(ownOrigin),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(h.clock.Now))
	return &cl, kid, err
}

// TestPrivacyPurposeAdmission: only this server's own page may ask for a
// privacy page token, and only for an authentication; this server's origin
// gets no site token.
func TestPrivacyPurposeAdmission(t *testing.T) {
	h := newHarness(t, Limits{})
	for _, tc := range []struct {
		name, query, origin string
		ok                  bool
	}{
		{"site asks for a privacy token", "op=authenticate&purpose=privacy", testOrigin, false},
		{"no origin asks for a privacy token", "op=authenticate&purpose=privacy", "", false},
		{"privacy page enrolls", "op=enroll&purpose=privacy", ownOrigin, false},
		{"unknown purpose", "op=authenticate&purpose=admin", ownOrigin, false},
		{"this server's origin without the privacy purpose", "op=authenticate", ownOrigin, false},
		{"privacy page", "op=authenticate&purpose=privacy", ownOrigin, true},
		{"site", "op=authenticate", testOrigin, true},
	} {
		c, resp, err := h.dialQuery(tc.query, tc.origin)
		if tc.ok != (err == nil) {
			st := 0
			if resp != nil {
				st = resp.StatusCode
			}
			t.Errorf("%s: admitted %v (status %d), want %v", tc.name, err == nil, st, tc.ok)
		}
		if c != nil {
			c.conn.Close()
		}
		// The pre-flight check answers the same.
		req, _ := http.NewRequest("GET", h.ts.URL+"/widget/check?publicId="+h.app.PublicID+"&"+tc.query, nil)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if (r.StatusCode == http.StatusOK) != tc.ok {
			t.Errorf("%s: check %d", tc.name, r.StatusCode)
		}
	}
}

// TestPrivacyTokenIsNotASiteToken: an authentication started by the
// privacy page yields a short token for that page only; a site's verifier
// (audience = public ID) refuses it, and the site's token names its purpose.
func TestPrivacyTokenIsNotASiteToken(t *testing.T) {
	h := newHarness(t, Limits{})
	live := clip(t, "live_lmm_hamilton_640x480.mjpeg")
	c, _, err := h.dial(opEnroll, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	c.begin(opEnroll, nil)
	res := c.stream(live)
	if res["type"] != "result" {
		t.Fatalf("enroll: %v", res)
	}
	facialID := res["facialId"].(string)

	// The privacy page verifies with strict liveness: follow the prompts.
	h.srv.prompts = []string{pad.PromptTurnLeft, pad.PromptTurnRight}
	left, right := turnedFrames(t)
	p, _, err := h.dialQuery("op=authenticate&purpose=privacy", ownOrigin)
	if err != nil {
		t.Fatal(err)
	}
	p.begin(opAuthenticate, nil)
	res = p.follow(live, left, right)
	if res["type"] != "result" || res["facialId"] != facialID {
		t.Fatalf("privacy authenticate: %v", res)
	}
	token := res["token"].(string)
	if _, _, err := h.parse(token, h.app.PublicID); err == nil {
		t.Fatal("a site verifier accepts the privacy page token")
	}
	cl, _, err := h.parse(token, likeness.PrivacyAudience(ownOrigin, h.app.PublicID))
	if err != nil {
		t.Fatalf("privacy token: %v", err)
	}
	if cl.Purpose != likeness.PurposePrivacy || cl.Liveness != likeness.LivenessStrict || cl.Subject != facialID ||
		cl.Op != opAuthenticate || cl.ID == "" ||
		cl.ExpiresAt.Sub(cl.IssuedAt.Time) != likeness.PrivacyTokenTTL {
		t.Errorf("privacy claims %+v", cl)
	}
}

// TestKeyRotation: after a rotation the new key signs, the old key stays
// published until every token it signed has expired, then leaves the JWKS
// and the store.
func TestKeyRotation(t *testing.T) {
	h := newHarness(t, Limits{})
	ctx := context.Background()
	old, err := h.srv.signer.issue(h.app.PublicID, "f1", opAuthenticate, likeness.LivenessStandard)
	if err != nil {
		t.Fatal(err)
	}
	_, oldKid, err := h.parse(old, h.app.PublicID)
	if err != nil {
		t.Fatal(err)
	}
	if _, rotated, err := h.db.RotateSigningKeyIfOlder(ctx, 30*24*time.Hour); err != nil || rotated {
		t.Fatalf("a fresh key was rotated: %v %v", rotated, err)
	}
	h.clock.Advance(30*24*time.Hour - 4*time.Minute)
	old, _ = h.srv.signer.issue(h.app.PublicID, "f1", opAuthenticate, likeness.LivenessStandard) // signed just before the rotation
	h.clock.Advance(4 * time.Minute)
	newKid, rotated, err := h.db.RotateSigningKeyIfOlder(ctx, 30*24*time.Hour)
	if err != nil || !rotated || newKid == oldKid {
		t.Fatalf("rotation after 30 days: %s %v %v", newKid, rotated, err)
	}
	fresh, err := h.srv.signer.issue(h.app.PublicID, "f2", opAuthenticate, likeness.LivenessStandard)
	if err != nil {
		t.Fatal(err)
	}
	if _, kid, err := h.parse(fresh, h.app.PublicID); err != nil || kid != newKid {
		t.Fatalf("after rotation: signed by %s (%v), want %s", kid, err, newKid)
	}
	keys := h.jwks()
	if len(keys) != 2 || keys[oldKid] == nil || keys[newKid] == nil {
		t.Fatalf("JWKS after rotation: %v", keys)
	}
	if _, _, err := h.parse(old, h.app.PublicID); err != nil {
		t.Fatalf("a token of the old key, still valid, no longer verifies: %v", err)
	}
	// The old key's last token expires 1 minute after the rotation; the key
	// is published for likeness.KeyGrace.
	h.clock.Advance(likeness.KeyGrace - time.Second)
	if keys := h.jwks(); keys[oldKid] == nil {
		t.Fatal("the old key left the JWKS before its tokens could have expired")
	}
	if n, err := h.db.PurgeSigningKeys(ctx, h.clock.Now().Add(-likeness.KeyGrace)); err != nil || n != 0 {
		t.Fatalf("purged %d early (%v)", n, err)
	}
	h.clock.Advance(2 * time.Second)
	if keys := h.jwks(); len(keys) != 1 || keys[newKid] == nil {
		t.Fatalf("JWKS after the grace: %v", keys)
	}
	if n, err := h.db.PurgeSigningKeys(ctx, h.clock.Now().Add(-likeness.KeyGrace)); err != nil || n != 1 {
		t.Fatalf("purged %d (%v), want the old key", n, err)
	}
	fresh, _ = h.srv.signer.issue(h.app.PublicID, "f3", opAuthenticate, likeness.LivenessStandard)
	if _, kid, err := h.parse(fresh, h.app.PublicID); err != nil || kid != newKid {
		t.Fatalf("the new key's token: %s %v", kid, err)
	}
	// The rotation is audited.
	if _, problems, err := h.db.VerifyAudit(ctx, ""); err != nil || len(problems) != 0 {
		t.Fatalf("audit: %v %v", problems, err)
	}
}
