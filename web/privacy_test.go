package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/likeness/likeness"
)

// token signs a privacy page token for the application pid as
// server/token.go does (issuePrivacy), with edits.
func (e *env) token(pid, sub, op string, edit func(*privacyClaims, *jwt.Token)) string {
	e.t.Helper()
	key, kid, err := e.db.SigningKey(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.clock.Now()
	cl := privacyClaims{Op: op, Purpose: likeness.PurposePrivacy, Liveness: likeness.LivenessStrict, RegisteredClaims: jwt.RegisteredClaims{Issuer: testOrigin, Subject: sub,
		Audience: jwt.ClaimStrings{likeness.PrivacyAudience(testOrigin, pid)}, IssuedAt: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(likeness.PrivacyTokenTTL)), ID: uuid.NewString()}}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, &cl)
	t.Header["kid"] = kid
	if edit != nil {
		edit(&cl, t)
	}
	s, err := t.SignedString(key)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// verify posts a token from the privacy page, as its script does.
func (b *browser) verify(pid, token string) reply {
	b.env.t.Helper()
	b.get("/privacy/" + pid)
	return b.post("/privacy/"+pid+"/session", url.Values{"token": {token}})
}

func TestPrivacyPage(t *testing.T) {
	e := newEnv(t)
	e.signUp("ann@example.com", "Acme")
	app, _ := e.app(e.org("ann@example.com"), "Shop")
	other, _ := e.app(e.org("ann@example.com"), "Other shop")
	face := e.enroll(app, "cust-9", `{"loyalty":"gold"}`)
	stranger := e.enroll(other, "", "")
	if _, err := e.db.UpdateCollection(context.Background(), app.ID, likeness.CollectionPatch{RetentionDays: ptr(90)}); err != nil {
		t.Fatal(err)
	}
	pid := app.PublicID
	page := "/privacy/" + pid

	b := e.browser()
	r := b.get(page)
	check(t, "start", r, http.StatusOK, []string{"Your data with Shop", `src="/fio.js"`, `data-public-id="` + pid + `"`,
		"Verify with my face", `id="privacy-token-form"`}, append([]string{face.FacialID}, neverShown...))
	if got := r.Header().Get("Permissions-Policy"); got != likeness.PermissionsPolicyCamera {
		t.Errorf("the verification page's Permissions-Policy %q, want the camera for itself", got)
	}
	check(t, "unknown app", b.get("/privacy/app_00000000000000000000"), http.StatusNotFound, []string{"There is no privacy page here."}, nil)

	// Every failure gets the same page and message.
	evil, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"garbage", "not.a.token"},
		{"another application", e.token(other.PublicID, stranger.FacialID, "authenticate", nil)},
		{"another application's face", e.token(pid, stranger.FacialID, "authenticate", nil)},
		{"unknown face", e.token(pid, uuid.NewString(), "authenticate", nil)},
		{"enroll token", e.token(pid, face.FacialID, "enroll", nil)},
		// A token from a site's widget at standard liveness (an attacker
		// claiming the site's origin to avoid the strict check).
		{"standard liveness", e.token(pid, face.FacialID, "authenticate", func(c *privacyClaims, _ *jwt.Token) { c.Liveness = likeness.LivenessStandard })},
		{"no liveness claim", e.token(pid, face.FacialID, "authenticate", func(c *privacyClaims, _ *jwt.Token) { c.Liveness = "" })},
		{"wrong issuer", e.token(pid, face.FacialID, "authenticate", func(c *privacyClaims, _ *jwt.Token) { c.Issuer = "https://evil.example" })},
		{"expired", e.token(pid, face.FacialID, "authenticate", func(c *privacyClaims, _ *jwt.Token) {
			c.ExpiresAt = jwt.NewNumericDate(e.clock.Now().Add(-time.Second))
		})},
		{"no jti", e.token(pid, face.FacialID, "authenticate", func(c *privacyClaims, _ *jwt.Token) { c.ID = "" })},
		// A site's result token (server/token.go issue): right key, issuer,
		// subject and operation, but made for the site.
		{"site result token", e.token(pid, face.FacialID, "authenticate", func(c *privacyClaims, _ *jwt.Token) {
			c.Purpose, c.Audience = likeness.PurposeResult, jwt.ClaimStrings{pid}
			c.ExpiresAt = jwt.NewNumericDate(e.clock.Now().Add(likeness.ResultTokenTTL))
		})},
		{"site audience with privacy purpose", e.token(pid, face.FacialID, "authenticate", func(c *privacyClaims, _ *jwt.Token) {
			c.Audience = jwt.ClaimStrings{pid}
		})},
		{"privacy audience, site purpose", e.token(pid, face.FacialID, "authenticate", func(c *privacyClaims, _ *jwt.Token) {
			c.Purpose = likeness.PurposeResult
		})},
		{"no purpose", e.token(pid, face.FacialID, "authenticate", func(c *privacyClaims, _ *jwt.Token) { c.Purpose = "" })},
		{"another application's privacy page", e.token(other.PublicID, face.FacialID, "authenticate", nil)},
		{"too long a life", e.token(pid, face.FacialID, "authenticate", func(c *privacyClaims, _ *jwt.Token) {
			c.ExpiresAt = jwt.NewNumericDate(e.clock.Now().Add(likeness.ResultTokenTTL))
		})},
		{"no iat", e.token(pid, face.FacialID, "authenticate", func(c *privacyClaims, _ *jwt.Token) { c.IssuedAt = nil })},
		{"unknown kid", e.token(pid, face.FacialID, "authenticate", func(_ *privacyClaims, t *jwt.Token) { t.Header["kid"] = "other" })},
		{"HS256", func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, privacyClaims{Op: "authenticate", Purpose: likeness.PurposePrivacy, RegisteredClaims: jwt.RegisteredClaims{
				Issuer: testOrigin, Subject: face.FacialID, Audience: jwt.ClaimStrings{likeness.PrivacyAudience(testOrigin, pid)}, ID: "x",
				ExpiresAt: jwt.NewNumericDate(e.clock.Now().Add(time.Minute))}}).SignedString([]byte("guess"))
			return s
		}()},
		{"another key", func() string {
			t := jwt.NewWithClaims(jwt.SigningMethodES256, privacyClaims{Op: "authenticate", Purpose: likeness.PurposePrivacy, RegisteredClaims: jwt.RegisteredClaims{
				Issuer: testOrigin, Subject: face.FacialID, Audience: jwt.ClaimStrings{likeness.PrivacyAudience(testOrigin, pid)}, ID: "y",
				ExpiresAt: jwt.NewNumericDate(e.clock.Now().Add(time.Minute))}})
			_, kid, _ := e.db.SigningKey(context.Background())
			t.Header["kid"] = kid
			s, _ := t.SignedString(evil)
			return s
		}()},
	} {
		c := e.browser()
		c.ip = "192.0.2." + string(rune('A'+len(tc.name)%20)) // keep clear of the per-address limit
		r := c.verify(pid, tc.token)
		check(t, tc.name, r, http.StatusUnauthorized, []string{privacyFailed, `class="notice notice-error" role="alert" id="privacy-failed"`, `id="privacy-error" role="alert"`}, []string{face.FacialID, stranger.FacialID})
		if c.cookies[privacyCookie] != nil {
			t.Errorf("%s: a privacy session was opened", tc.name)
		}
	}

	// A good token opens a session bound to the Facial ID, once.
	good := e.token(pid, face.FacialID, "authenticate", nil)
	r = b.verify(pid, good)
	if r.Code != http.StatusSeeOther || r.location() != page {
		t.Fatalf("verify: %d %s\n%s", r.Code, r.location(), excerpt(r.body))
	}
	ck := b.cookies[privacyCookie]
	if ck == nil || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" ||
		ck.MaxAge > int(PrivacySessionTTL.Seconds()) {
		t.Fatalf("privacy cookie: %+v", ck)
	}
	check(t, "my data", b.get(page), http.StatusOK, []string{face.FacialID, "Accepted the notice in the widget",
		"Version 1 of the notice", "erased automatically 90 days after you enrolled", "Download (JSON)", "Erase my Facial ID"},
		append([]string{"$argon2id$", "cust-9"}, neverShown...))
	replay := e.browser()
	check(t, "replayed token", replay.verify(pid, good), http.StatusConflict, []string{privacyReplayed}, []string{face.FacialID})
	if replay.cookies[privacyCookie] != nil {
		t.Error("a replayed token opened a session")
	}

	// The session is for this application only.
	r = b.get("/privacy/" + other.PublicID)
	check(t, "other app's page", r, http.StatusOK, []string{"Verify with my face"}, []string{face.FacialID, stranger.FacialID})

	// Download.
	r = b.get(page + "/export")
	if r.Code != http.StatusOK || !strings.HasPrefix(r.Header().Get("Content-Type"), "application/json") ||
		!strings.Contains(r.Header().Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", r.Code, r.Header())
	}
	var x map[string]any
	if err := json.Unmarshal([]byte(r.body), &x); err != nil {
		t.Fatal(err)
	}
	if x["facialId"] != face.FacialID || x["externalId"] != "cust-9" || x["payload"].(map[string]any)["loyalty"] != "gold" ||
		x["consent"].(map[string]any)["noticeVersion"].(float64) != 1 || x["retention"].(map[string]any)["days"].(float64) != 90 {
		t.Errorf("export: %s", r.body)
	}
	for _, bad := range []string{"template_sealed", "embedding", "similarity", "$argon2id$"} {
		if strings.Contains(r.body, bad) {
			t.Errorf("the export contains %q", bad)
		}
	}

	// Forms need the session's token.
	r = b.request(http.MethodPost, page+"/delete", url.Values{"confirm": {"yes"}, "csrf": {b.h().formToken("pre", "x")}}, nil)
	check(t, "delete without token", r, http.StatusForbidden, nil, nil)
	r = b.request(http.MethodPost, page+"/delete", url.Values{"confirm": {"yes"}, "csrf": {csrfOf(b.get(page).body)}},
		map[string]string{"Sec-Fetch-Site": "cross-site"})
	check(t, "cross-site delete", r, http.StatusForbidden, nil, nil)
	if _, err := e.db.Face(context.Background(), app.ID, face.FacialID); err != nil {
		t.Fatal("a refused request erased the face")
	}

	// Erase.
	b.get(page)
	check(t, "unconfirmed", b.post(page+"/delete", nil), http.StatusBadRequest, []string{"Nothing was erased."}, nil)
	b.get(page)
	r = b.post(page+"/delete", url.Values{"confirm": {"yes"}})
	check(t, "erase", r, http.StatusOK, []string{"Your Facial ID was erased."}, nil)
	if b.cookies[privacyCookie] != nil {
		t.Error("the privacy cookie survived the erasure")
	}
	if _, err := e.db.Face(context.Background(), app.ID, face.FacialID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("the face is still there: %v", err)
	}
	entries, _ := e.db.AuditEntries(context.Background(), app.OrgID, 0, 1000)
	var deleted, exported bool
	for _, en := range entries {
		switch {
		case en.Action == likeness.EventDeleted && en.Target == face.FacialID:
			deleted = strings.Contains(string(en.Details), likeness.ReasonSelfService) && en.Actor == "self_service:"+face.FacialID
		case en.Action == "facialid.exported" && en.Target == face.FacialID:
			exported = true
		}
	}
	if !deleted || !exported {
		t.Errorf("audit: deleted (self_service) %v, exported %v", deleted, exported)
	}
	// After the erasure the (copied) cookie opens nothing.
	b.cookies[privacyCookie] = ck
	check(t, "after erasure", b.get(page), http.StatusOK, []string{"Verify with my face"}, []string{face.FacialID})
	check(t, "export after erasure", b.get(page+"/export"), http.StatusSeeOther, nil, nil)
}

// TestPrivacyEraseOnAFullDisk: a person can erase themselves when the
// server's disk is full.
func TestPrivacyEraseOnAFullDisk(t *testing.T) {
	e := newEnv(t)
	e.signUp("ann@example.com", "Acme")
	app, _ := e.app(e.org("ann@example.com"), "Shop")
	face := e.enroll(app, "", "")
	b := e.browser()
	if r := b.verify(app.PublicID, e.token(app.PublicID, face.FacialID, "authenticate", nil)); r.Code != http.StatusSeeOther {
		t.Fatalf("verify: %d", r.Code)
	}
	page := "/privacy/" + app.PublicID
	b.get(page)
	e.db.FillForTest(t)
	r := b.post(page+"/delete", url.Values{"confirm": {"yes"}})
	check(t, "erase on a full disk", r, http.StatusOK, []string{"Your Facial ID was erased."}, nil)
	if _, err := e.db.Face(context.Background(), app.ID, face.FacialID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("the face is still there: %v", err)
	}
}

func TestPrivacySessionExpires(t *testing.T) {
	e := newEnv(t)
	e.signUp("ann@example.com", "Acme")
	app, _ := e.app(e.org("ann@example.com"), "Shop")
	face := e.enroll(app, "", "")
	b := e.browser()
	if r := b.verify(app.PublicID, e.token(app.PublicID, face.FacialID, "authenticate", nil)); r.Code != http.StatusSeeOther {
		t.Fatalf("verify: %d", r.Code)
	}
	e.clock.Advance(PrivacySessionTTL + time.Second)
	check(t, "expired", b.get("/privacy/"+app.PublicID), http.StatusOK, []string{"Verify with my face"}, []string{face.FacialID})

	// Sign-out ends the session at once.
	c := e.browser()
	c.verify(app.PublicID, e.token(app.PublicID, face.FacialID, "authenticate", nil))
	kept := c.cookies[privacyCookie]
	c.get("/privacy/" + app.PublicID)
	if r := c.post("/privacy/"+app.PublicID+"/signout", nil); r.Code != http.StatusSeeOther {
		t.Fatalf("sign out: %d", r.Code)
	}
	c.cookies[privacyCookie] = kept
	check(t, "signed out", c.get("/privacy/"+app.PublicID), http.StatusOK, []string{"Verify with my face"}, []string{face.FacialID})
}

func (b *browser) h() *Handler { return b.env.h }

func csrfOf(body string) string {
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func ptr[T any](v T) *T { return &v }
