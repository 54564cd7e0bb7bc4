package web

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the raw driver, to tamper with the audit chain

	"github.com/likeness/likeness"
)

var (
	apiKeyRe  = regexp.MustCompile(`lk_[A-Za-z0-9_-]{43}`)
	secretRe  = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]{20,}`)
	publicIDs = regexp.MustCompile(`app_[A-Za-z0-9]{20}`)
)

func TestApplicationLifecycle(t *testing.T) {
	e := newEnv(t)
	b := e.signUp("ann@example.com", "Acme")
	org := e.org("ann@example.com")
	check(t, "no apps yet", b.get("/console/apps"), http.StatusOK, []string{"No applications in Acme yet."}, neverShown)

	// An application needs an origin; then the first API key is shown once.
	r := b.post("/console/apps", url.Values{"org": {org}, "name": {"No site"}, "origins": {"  "}})
	check(t, "create without an origin", r, http.StatusBadRequest, []string{"Add at least one allowed origin", `value="No site"`}, nil)
	r = b.post("/console/apps", url.Values{"org": {org}, "name": {"Shop"}, "origins": {"https://shop.example\nhttps://www.shop.example:8443"}})
	// POST/redirect/GET: the overview shows the key once; a reload does not.
	pid := publicIDs.FindString(r.location())
	if r.Code != http.StatusSeeOther || r.location() != "/console/apps/"+pid+"?done=created" {
		t.Fatalf("create: %d %q\n%s", r.Code, r.location(), excerpt(r.body))
	}
	if strings.Contains(r.body, "lk_") {
		t.Error("the redirect carries the key")
	}
	r = b.get(r.location())
	check(t, "created", r, http.StatusOK, []string{"The application was created.", "Your first API key", "shown only once",
		`&lt;script src=&#34;https://likeness.test/fio.js&#34;&gt;&lt;/script&gt;`}, neverShown)
	key := apiKeyRe.FindString(r.body)
	if key == "" {
		t.Fatalf("the overview shows no API key after creation:\n%s", excerpt(r.body))
	}
	check(t, "created, reloaded", b.get("/console/apps/"+pid+"?done=created"), http.StatusOK, []string{"Shop"},
		[]string{key, "Your first API key"})
	if !strings.Contains(r.body, `new faceIO(&#34;`+pid+`&#34;)`) {
		t.Errorf("no integration snippet for %s", pid)
	}
	app, err := e.db.AppByPublicID(context.Background(), pid)
	if err != nil {
		t.Fatal(err)
	}
	base := "/console/apps/" + pid
	check(t, "overview", b.get(base), http.StatusOK, []string{"Shop", pid, "https://www.shop.example:8443", "/privacy/" + pid}, append([]string{key}, neverShown...))

	for _, tc := range []struct {
		name, path string
		form       url.Values
		status     int
		want       []string
	}{
		{"bad origin", "/origins", url.Values{"origins": {"ftp://nope"}}, http.StatusBadRequest, []string{"must be scheme://host"}},
		{"no origin", "/origins", url.Values{"origins": {" \n "}}, http.StatusBadRequest, []string{"Add at least one allowed origin"}},
		{"origins", "/origins", url.Values{"origins": {"https://a.example, https://b.example"}}, http.StatusSeeOther, nil},
		{"empty name", "/rename", url.Values{"name": {"  "}}, http.StatusBadRequest, []string{"Name must be 1 to 100 characters."}},
		{"rename", "/rename", url.Values{"name": {"Shop Two"}}, http.StatusSeeOther, nil},
		{"bad retention", "/collection", url.Values{"retention": {"0"}}, http.StatusBadRequest, []string{"retentionDays must be null or 1 to 3650."}},
		{"non-numeric retention", "/collection", url.Values{"retention": {"soon"}}, http.StatusBadRequest, []string{"whole number of days"}},
		{"retention", "/collection", url.Values{"retention": {"30"}, "storeImages": {"on"}}, http.StatusSeeOther, nil},
		{"bad security", "/security", url.Values{"pin": {"sometimes"}, "pinMinLength": {"4"}, "minimumAge": {"18"}, "liveness": {"standard"},
			"sessionsPerIpPerMinute": {"30"}, "sessionsPerAppPerMinute": {"600"}, "maxFailedAuth": {"5"}, "lockoutMinutes": {"15"}},
			http.StatusBadRequest, []string{"pin must be off, optional or required."}},
		{"script as a privacy policy", "/security", url.Values{"pin": {"off"}, "pinMinLength": {"4"}, "minimumAge": {"18"}, "liveness": {"standard"},
			"sessionsPerIpPerMinute": {"30"}, "sessionsPerAppPerMinute": {"600"}, "maxFailedAuth": {"5"}, "lockoutMinutes": {"15"},
			"privacyPolicyUrl": {"javascript:alert(1)"}},
			http.StatusBadRequest, []string{"privacyPolicyUrl must be an absolute https:// (or http://) URL"}},
		{"security", "/security", url.Values{"pin": {"required"}, "pinMinLength": {"6"}, "minimumAge": {"21"}, "liveness": {"strict"},
			"allowedCountries": {"fr, be"}, "preventMinors": {"on"}, "uniquePins": {"on"}, "maxFalseAcceptRate": {"1e-05"},
			"privacyPolicyUrl":       {" https://shop.example/privacy "},
			"sessionsPerIpPerMinute": {"10"}, "sessionsPerAppPerMinute": {"600"}, "maxFailedAuth": {"3"}, "lockoutMinutes": {"60"}},
			http.StatusSeeOther, nil},
		{"bad target", "/security", url.Values{"pin": {"off"}, "pinMinLength": {"4"}, "minimumAge": {"18"}, "liveness": {"standard"},
			"maxFalseAcceptRate": {"0.5"}, "sessionsPerIpPerMinute": {"30"}, "sessionsPerAppPerMinute": {"600"}, "maxFailedAuth": {"5"},
			"lockoutMinutes": {"15"}}, http.StatusBadRequest, []string{"maxFalseAcceptRate must be between"}},
		{"notice", "/consent", url.Values{"locale": {"en"}, "title": {"Face sign-in at {{app}}"}, "text": {"We keep a template of your face. See {{privacyUrl}}."}},
			http.StatusSeeOther, nil},
		{"empty notice", "/consent", url.Values{"locale": {"en"}, "title": {"T"}, "text": {""}}, http.StatusBadRequest, []string{"Text is required."}},
	} {
		b.get(base)
		check(t, tc.name, b.post(base+tc.path, tc.form), tc.status, tc.want, neverShown)
	}
	check(t, "overview after", b.get(base+"?done=renamed"), http.StatusOK,
		[]string{"Shop Two", "https://a.example", "https://b.example", "30 days after enrollment", "The application was renamed."}, nil)
	st, _ := e.db.Settings(context.Background(), app.ID)
	if st.PIN != "required" || st.PINMinLength != 6 || st.Liveness != "strict" || !st.PreventMinors || st.RejectEmptyOrigin ||
		strings.Join(st.AllowedCountries, ",") != "FR,BE" || st.MaxFailedAuth != 3 || st.MaxFalseAcceptRate != 1e-5 ||
		st.PrivacyPolicyURL != "https://shop.example/privacy" {
		t.Errorf("settings saved: %+v", st)
	}
	check(t, "security page", b.get(base+"/security"), http.StatusOK, []string{`value="FR, BE"`, `value="strict" selected`,
		`data-testid="gallery-size">0<`, `data-testid="face-only-far"`, `value="1e-05" selected`, `value="https://shop.example/privacy"`},
		[]string{"second-factor-warning", "similarity"})
	check(t, "consent page", b.get(base+"/consent"), http.StatusOK,
		[]string{"Face sign-in at Shop Two", "/privacy/" + pid, "Version 1"}, nil)
	// The same text again adds no version; a change adds version 2.
	b.get(base + "/consent")
	r = b.post(base+"/consent", url.Values{"locale": {"en"}, "title": {"Face sign-in at {{app}}"}, "text": {"We keep a template of your face. See {{privacyUrl}}."}})
	if r.location() != base+"/consent?done=notice-same" {
		t.Errorf("unchanged notice: %d %s", r.Code, r.location())
	}
	b.post(base+"/consent", url.Values{"locale": {"en"}, "title": {"Face sign-in"}, "text": {"Version two."}})
	check(t, "versions", b.get(base+"/consent"), http.StatusOK, []string{"Version 2", "Version two.", "Face sign-in at Shop Two"}, nil)

	// Delete: the name must be typed exactly.
	b.get(base)
	check(t, "delete, wrong name", b.post(base+"/delete", url.Values{"confirm": {"shop two"}}), http.StatusBadRequest,
		[]string{"Nothing was deleted."}, nil)
	r = b.post(base+"/delete", url.Values{"confirm": {"Shop Two"}})
	if r.Code != http.StatusSeeOther || r.location() != "/console/apps?done=deleted" {
		t.Fatalf("delete: %d %s", r.Code, r.location())
	}
	check(t, "deleted app", b.get(base), http.StatusNotFound, []string{"Application not found."}, nil)
	check(t, "apps after delete", b.get("/console/apps?done=deleted"), http.StatusOK,
		[]string{"were deleted", "No applications in Acme yet."}, []string{pid})
}

func TestSecretsShownOnce(t *testing.T) {
	e := newEnv(t)
	b := e.signUp("ann@example.com", "Acme")
	app, first := e.app(e.org("ann@example.com"), "Shop")
	base := "/console/apps/" + app.PublicID

	// API keys.
	check(t, "keys", b.get(base+"/keys"), http.StatusOK, []string{first.APIKey[:11] + "…", "Active"},
		append([]string{first.APIKey}, neverShown...))
	r := b.post(base+"/keys", url.Values{"role": {"member"}})
	check(t, "create key", r, http.StatusCreated, []string{"shown only once"}, neverShown)
	key := apiKeyRe.FindString(r.body)
	if key == "" || key == first.APIKey {
		t.Fatalf("no new key shown:\n%s", excerpt(r.body))
	}
	if cc := r.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the page with the key is cacheable: %q", cc)
	}
	check(t, "keys again", b.get(base+"/keys"), http.StatusOK, []string{key[:11] + "…"}, []string{key, first.APIKey})
	keys, _ := e.db.ListAPIKeys(context.Background(), app.ID)
	b.get(base + "/keys")
	r = b.post(base+"/keys/"+keys[0].ID+"/revoke", nil)
	if r.Code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.Code)
	}
	check(t, "revoked", b.get(base+"/keys?done=revoked"), http.StatusOK, []string{"Revoked", "The API key was revoked."}, nil)

	// Webhook secrets: shown at creation and at rotation, never after.
	b.get(base + "/webhooks")
	check(t, "bad webhook", b.post(base+"/webhooks", url.Values{"url": {"not a url"}}), http.StatusBadRequest,
		[]string{"Webhook URL must be an absolute http or https URL."}, nil)
	r = b.post(base+"/webhooks", url.Values{"url": {"https://hooks.example/in"}, "events": {likeness.EventDeleted, likeness.EventEnrolled}})
	check(t, "add webhook", r, http.StatusCreated, []string{"shown only once", "https://hooks.example/in"}, neverShown)
	secret := secretRe.FindString(r.body)
	if secret == "" {
		t.Fatalf("no webhook secret shown:\n%s", excerpt(r.body))
	}
	eps, _ := e.db.WebhookEndpoints(context.Background(), app.ID)
	if len(eps) != 1 || eps[0].Secret != secret {
		t.Fatalf("endpoints: %+v", eps)
	}
	ep := base + "/webhooks/" + eps[0].ID
	check(t, "webhooks again", b.get(base+"/webhooks"), http.StatusOK, []string{"https://hooks.example/in", "2 event types"}, []string{secret, "whsec_"})
	check(t, "endpoint", b.get(ep), http.StatusOK, []string{`value="facialid.deleted" checked`, "No delivery yet."}, []string{secret, "whsec_"})
	r = b.post(ep+"/rotate", nil)
	check(t, "rotate", r, http.StatusOK, []string{"New signing secret", "shown only once"}, []string{secret})
	rotated := secretRe.FindString(r.body)
	if rotated == "" || rotated == secret {
		t.Fatalf("rotation showed %q", rotated)
	}
	check(t, "endpoint after rotation", b.get(ep), http.StatusOK, []string{"The previous secret signs deliveries too"}, []string{secret, rotated, "whsec_"})

	// Test event, delivery log, re-send, edit, payload setting, delete.
	r = b.post(ep+"/test", nil)
	if r.Code != http.StatusSeeOther {
		t.Fatalf("test: %d\n%s", r.Code, excerpt(r.body))
	}
	r = b.get(ep + "?done=test")
	check(t, "delivery log", r, http.StatusOK, []string{"webhook.test", "Pending", "A test event was queued"}, []string{"whsec_"})
	event := regexp.MustCompile(`msg_[A-Za-z0-9]+`).FindString(r.body)
	if event == "" {
		t.Fatal("no event ID in the delivery log")
	}
	if r := b.post(ep+"/resend", url.Values{"event": {event}}); r.Code != http.StatusSeeOther {
		t.Errorf("re-send: %d\n%s", r.Code, excerpt(r.body))
	}
	b.get(ep)
	if r := b.post(ep+"/resend", url.Values{"event": {"msg_nope"}}); r.Code != http.StatusNotFound {
		t.Errorf("re-send of an unknown event: %d", r.Code)
	}
	b.get(ep)
	r = b.post(ep, url.Values{"url": {"https://hooks.example/v2"}, "events": {likeness.EventPurged}})
	if r.Code != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", r.Code, excerpt(r.body))
	}
	got, _ := e.db.WebhookEndpoint(context.Background(), app.ID, eps[0].ID)
	if got.URL != "https://hooks.example/v2" || got.Enabled || len(got.Events) != 1 {
		t.Errorf("edited endpoint: %+v", got)
	}
	b.get(base + "/webhooks")
	b.post(base+"/webhooks/payload", url.Values{"include": {"on"}})
	if on, _ := e.db.WebhookIncludePayload(context.Background(), app.ID); !on {
		t.Error("the payload setting was not saved")
	}
	b.get(ep)
	if r := b.post(ep+"/delete", nil); r.Code != http.StatusSeeOther {
		t.Errorf("delete endpoint: %d", r.Code)
	}
	check(t, "endpoint gone", b.get(ep), http.StatusNotFound, nil, nil)

	// No page of this test ever showed a password hash.
	u, _ := e.db.UserByEmail(context.Background(), "ann@example.com")
	for _, p := range []string{"/console/apps", "/console/account", base, base + "/keys", "/console/orgs/" + e.org("ann@example.com") + "/members"} {
		check(t, p, b.get(p), http.StatusOK, nil, []string{u.PasswordHash, "$argon2id$"})
	}
}

func TestOrgIsolation(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SignUp = SignUpOpen })
	ann := e.signUp("ann@example.com", "Acme")
	bob := e.signUp("bob@example.com", "Bobco")
	annOrg, bobOrg := e.org("ann@example.com"), e.org("bob@example.com")
	app, sec := e.app(annOrg, "Ann's secret shop")
	face := e.enroll(app, "customer-42", `{"vip":true}`)
	ann.get("/console/apps")
	bobApp, _ := e.app(bobOrg, "Bob's shop")

	base := "/console/apps/" + app.PublicID
	for _, p := range []string{base, base + "/faces", base + "/faces/" + face.FacialID, base + "/keys", base + "/webhooks",
		base + "/analytics", base + "/consent", base + "/security", "/console/orgs/" + annOrg + "/members",
		"/console/orgs/" + annOrg + "/audit"} {
		r := bob.get(p)
		check(t, "bob GET "+p, r, http.StatusNotFound, nil, []string{"Ann's secret shop", face.FacialID, "customer-42", sec.APIKey[:11]})
	}
	bob.get("/console/apps")
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{base + "/rename", url.Values{"name": {"pwned"}}},
		{base + "/delete", url.Values{"confirm": {"Ann's secret shop"}}},
		{base + "/faces/" + face.FacialID + "/delete", url.Values{"confirm": {"yes"}}},
		{base + "/keys", url.Values{"role": {"member"}}},
		{"/console/orgs/" + annOrg + "/members", url.Values{"email": {"bob@example.com"}, "role": {"owner"}}},
		{"/console/apps", url.Values{"org": {annOrg}, "name": {"Sneaky"}}},
	} {
		check(t, "bob POST "+tc.path, bob.post(tc.path, tc.form), http.StatusNotFound, nil, []string{"Ann's secret shop"})
	}
	check(t, "bob's apps", bob.get("/console/apps"), http.StatusOK, []string{"Bob&#39;s shop", bobApp.PublicID},
		[]string{"Ann&#39;s secret shop", app.PublicID, "Acme"})
	ctx := context.Background()
	if a, _ := e.db.AppByPublicID(ctx, app.PublicID); a == nil || a.Name != "Ann's secret shop" {
		t.Error("bob changed ann's application")
	}
	if _, err := e.db.Face(ctx, app.ID, face.FacialID); err != nil {
		t.Error("bob erased ann's face")
	}
	if apps, _ := e.db.OrgApps(ctx, annOrg); len(apps) != 1 {
		t.Errorf("ann's org has %d apps", len(apps))
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t)
	owner := e.signUp("ann@example.com", "Acme")
	org := e.org("ann@example.com")
	app, _ := e.app(org, "Shop")
	base := "/console/apps/" + app.PublicID
	members := "/console/orgs/" + org + "/members"

	// Members join by accepting an invitation: vera makes her account from
	// the link, adam (who has one) accepts signed in.
	viewer := e.join(owner, org, "vera@example.com", "viewer", nil)
	admin := e.join(owner, org, "adam@example.com", "admin", e.signUp2("adam@example.com"))
	face := e.enroll(app, "", "")

	// Viewers read but change nothing.
	check(t, "viewer reads", viewer.get(base), http.StatusOK, []string{"you can look but not change"}, []string{"Delete this application", `action="` + base + `/rename"`})
	check(t, "viewer faces", viewer.get(base+"/faces/"+face.FacialID), http.StatusOK, []string{face.FacialID}, []string{"Erase Facial ID"})
	viewer.get(base)
	for _, p := range []string{"/rename", "/origins", "/collection", "/delete", "/consent", "/security", "/keys", "/webhooks",
		"/faces/" + face.FacialID + "/delete"} {
		check(t, "viewer POST "+p, viewer.post(base+p, url.Values{"name": {"x"}, "confirm": {"yes"}, "role": {"member"}}),
			http.StatusForbidden, []string{"does not allow this"}, nil)
	}
	check(t, "viewer invites", viewer.post(members, url.Values{"email": {"x@example.com"}, "role": {"viewer"}}),
		http.StatusForbidden, nil, nil)
	check(t, "viewer audit", viewer.get("/console/orgs/"+org+"/audit"), http.StatusForbidden, []string{"Only owners"}, nil)
	if _, err := e.db.Face(context.Background(), app.ID, face.FacialID); err != nil {
		t.Fatal("a viewer erased a face")
	}

	// Admins change applications, not owners, and do not read the audit trail.
	check(t, "admin audit", admin.get("/console/orgs/"+org+"/audit"), http.StatusForbidden, []string{"Only owners of Acme can do this."}, nil)
	admin.get(base)
	if r := admin.post(base+"/rename", url.Values{"name": {"Shop 2"}}); r.Code != http.StatusSeeOther {
		t.Errorf("admin rename: %d", r.Code)
	}
	check(t, "admin deletes app", admin.post(base+"/delete", url.Values{"confirm": {"Shop 2"}}), http.StatusForbidden, nil, nil)
	check(t, "admin owner key", admin.post(base+"/keys", url.Values{"role": {"owner"}}), http.StatusForbidden, []string{"Only owners"}, nil)
	admin.get(members)
	check(t, "admin invites owner", admin.post(members, url.Values{"email": {"o@example.com"}, "role": {"owner"}}),
		http.StatusForbidden, nil, nil)
	annID := mustUser(t, e, "ann@example.com")
	check(t, "admin demotes owner", admin.post(members+"/"+annID+"/role", url.Values{"role": {"viewer"}}), http.StatusForbidden, nil, nil)
	check(t, "admin removes owner", admin.post(members+"/"+annID+"/remove", nil), http.StatusForbidden, nil, nil)
	veraID := mustUser(t, e, "vera@example.com")
	if r := admin.post(members+"/"+veraID+"/role", url.Values{"role": {"admin"}}); r.Code != http.StatusSeeOther {
		t.Errorf("admin promotes viewer: %d", r.Code)
	}
	check(t, "owner reads audit", owner.get("/console/orgs/"+org+"/audit"), http.StatusOK,
		[]string{"Chain verified.", "member.added", "member.role_changed", "application.renamed"}, neverShown)

	// The last owner cannot leave or be demoted.
	owner.get(members)
	check(t, "last owner demoted", owner.post(members+"/"+annID+"/role", url.Values{"role": {"admin"}}), http.StatusPreconditionFailed,
		[]string{"at least one owner"}, nil)
	check(t, "last owner removed", owner.post(members+"/"+annID+"/remove", nil), http.StatusPreconditionFailed, nil, nil)
	if r := owner.post(members+"/"+veraID+"/remove", nil); r.Code != http.StatusSeeOther {
		t.Errorf("owner removes member: %d", r.Code)
	}
	if r := viewer.get(base); r.Code != http.StatusNotFound {
		t.Errorf("a removed member still sees the application: %d", r.Code)
	}
}

func mustUser(t *testing.T, e *env, email string) string {
	t.Helper()
	u, err := e.db.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestFacialIDs(t *testing.T) {
	e := newEnv(t)
	b := e.signUp("ann@example.com", "Acme")
	app, _ := e.app(e.org("ann@example.com"), "Shop")
	base := "/console/apps/" + app.PublicID
	check(t, "no faces", b.get(base+"/faces"), http.StatusOK, []string{"No one is enrolled yet."}, nil)
	alice := e.enroll(app, "alice-1", `{"userId":123,"plan":"gold"}`)
	bob := e.enroll(app, "bob-7", `{"userId":456,"plan":"silver"}`)
	carol := e.enroll(app, "", "")

	check(t, "list", b.get(base+"/faces"), http.StatusOK, []string{alice.FacialID, bob.FacialID, carol.FacialID, "alice-1",
		`{&#34;userId&#34;:123,&#34;plan&#34;:&#34;gold&#34;}`, "3 enrolled"}, neverShown)
	for _, tc := range []struct {
		q          string
		want, miss []string
	}{
		{alice.FacialID, []string{alice.FacialID}, []string{bob.FacialID, carol.FacialID}},
		{strings.ToUpper(alice.FacialID[:8]), []string{alice.FacialID}, []string{bob.FacialID}},
		{"bob-7", []string{bob.FacialID}, []string{alice.FacialID}},
		{"userId=456", []string{bob.FacialID}, []string{alice.FacialID}},
		{"plan:gold", []string{alice.FacialID}, []string{bob.FacialID}},
		{"silver", []string{bob.FacialID}, []string{alice.FacialID}},
		{"nobody", []string{"No Facial ID matches."}, []string{alice.FacialID, bob.FacialID, carol.FacialID}},
	} {
		check(t, "search "+tc.q, b.get(base+"/faces?q="+url.QueryEscape(tc.q)), http.StatusOK, tc.want, tc.miss)
	}

	r := b.get(base + "/faces/" + alice.FacialID)
	check(t, "detail", r, http.StatusOK, []string{alice.FacialID, "alice-1", "&#34;plan&#34;: &#34;gold&#34;",
		"Accepted the notice in the widget", "Version 1 (en)", "Never", "Erase Facial ID"}, neverShown)
	check(t, "unknown face", b.get(base+"/faces/00000000-0000-4000-8000-000000000000"), http.StatusNotFound, nil, nil)

	check(t, "delete unconfirmed", b.post(base+"/faces/"+alice.FacialID+"/delete", nil), http.StatusBadRequest, []string{"Nothing was erased."}, nil)
	b.get(base + "/faces/" + alice.FacialID)
	r = b.post(base+"/faces/"+alice.FacialID+"/delete", url.Values{"confirm": {"yes"}})
	if r.Code != http.StatusSeeOther || r.location() != base+"/faces?done=face-deleted" {
		t.Fatalf("delete: %d %s", r.Code, r.location())
	}
	check(t, "list after delete", b.get(r.location()), http.StatusOK, []string{"The Facial ID was erased.", bob.FacialID, "2 enrolled"},
		[]string{alice.FacialID})
	check(t, "detail after delete", b.get(base+"/faces/"+alice.FacialID), http.StatusNotFound, nil, nil)
	n, _ := e.db.CountFaces(context.Background(), app.ID)
	if n != 2 {
		t.Errorf("%d faces after erasure, want 2", n)
	}
	entries, _ := e.db.AuditEntries(context.Background(), app.OrgID, 0, 1000)
	var found bool
	for _, en := range entries {
		if en.Action == likeness.EventDeleted && en.Target == alice.FacialID {
			found = strings.Contains(string(en.Details), `"console"`) && strings.HasPrefix(en.Actor, "console:usr_")
		}
	}
	if !found {
		t.Error("no audit entry facialid.deleted with reason console by the console account")
	}
}

func TestAnalytics(t *testing.T) {
	e := newEnv(t)
	b := e.signUp("ann@example.com", "Acme")
	app, _ := e.app(e.org("ann@example.com"), "Shop")
	base := "/console/apps/" + app.PublicID
	check(t, "empty", b.get(base+"/analytics"), http.StatusOK, []string{"Enrollments: none in the last 30 days.", "Nothing to show"}, nil)
	ctx := context.Background()
	record := func(op, outcome string, n int) {
		for range n {
			if err := e.db.RecordOutcome(ctx, app.ID, op, outcome); err != nil {
				t.Fatal(err)
			}
		}
	}
	record("enroll", "ok", 3)
	record("authenticate", "ok", 5)
	record("authenticate", "UNRECOGNIZED_FACE", 2)
	e.clock.Advance(-48 * 3600e9)
	record("enroll", "PAD_ATTACK", 1)
	e.clock.Advance(48 * 3600e9)
	record("authenticate", "FORBIDDDEN_ORIGIN", 4)
	record("enroll", "TOO_MANY_REQUESTS", 2)
	if err := e.db.RecordUnknownApp(ctx, "https://shop.example", "authenticate"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.RecordOutcome(ctx, app.ID, "enroll", "<script>"); err == nil {
		t.Error("RecordOutcome accepts a malformed outcome")
	}
	r := b.get(base + "/analytics?days=7")
	check(t, "charts", r, http.StatusOK, []string{`<svg class="chart-svg"`, `role="img"`, "<rect class=\"bar s0\"",
		"Enrollments: 3 in the last 7 days", "Authentications: 5 in the last 7 days", "Face not recognised (3)",
		"Liveness check failed (5)", "Show the data as a table", `<span class="total-value">3</span>`, `aria-current="page">7 days`,
		// 8 successes of 11 started sessions; refusals apart.
		`<span class="total-value">73%</span>`, "<dt>Site not allowed or no origin (16, 17)</dt><dd>4</dd>",
		"<dt>Rate limits (15)</dt><dd>2</dd>", `<span class="total-value">7</span> <span class="total-label">refused before starting`,
		"<dt>Unknown public ID, from one of this application&#39;s origins (10)</dt><dd>1</dd>",
		"Liveness and recognition failures: 3 in the last 7 days"}, append([]string{"UNRECOGNIZED_FACE", "PAD_ATTACK"}, neverShown...))
	if strings.Contains(r.body, "<script>") || strings.Contains(r.body, "style=") {
		t.Error("the analytics page has an inline script or style")
	}
}

func TestAuditTrail(t *testing.T) {
	e := newEnv(t)
	b := e.signUp("ann@example.com", "Acme")
	org := e.org("ann@example.com")
	app, _ := e.app(org, "Shop")
	for i := range 60 {
		if _, err := e.db.RenameApp(context.Background(), app.ID, "Shop "+string(rune('A'+i%26))); err != nil {
			t.Fatal(err)
		}
	}
	audit := "/console/orgs/" + org + "/audit"
	r := b.get(audit)
	check(t, "audit", r, http.StatusOK, []string{"Chain verified.", "63 entries", "application.renamed", "Older entries"}, append([]string{app.ID}, neverShown...))
	if strings.Contains(r.body, ">1</td>") {
		t.Error("the first page shows the oldest entry")
	}
	check(t, "older", b.get(audit+"?before=14"), http.StatusOK, []string{"organization.created", "Newest entries"}, []string{"Older entries"})

	// Tamper with the database behind the store's back.
	raw, err := sql.Open("sqlite", e.dir+"/likeness.db")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit_events SET actor = 'someone-else' WHERE org_id = ? AND seq = 5`, org); err != nil {
		t.Fatal(err)
	}
	check(t, "tampered", b.get(audit), http.StatusOK, []string{"The chain does not verify.", "entry 5: the entry was modified"}, nil)
}

func TestPagesAndAssets(t *testing.T) {
	e := newEnv(t)
	b := e.signUp("ann@example.com", "Acme")
	app, _ := e.app(e.org("ann@example.com"), "Shop")
	base := "/console/apps/" + app.PublicID
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`)
	// Any URL the browser would fetch or navigate to must be this server's.
	foreignRef := regexp.MustCompile(`(?:src|href|action)="(?:[a-z]+:)?//(?:[^l"]|l[^i])`)
	var css, js string
	for _, p := range []string{"/console/apps", base, base + "/faces", base + "/analytics", base + "/consent", base + "/security",
		base + "/keys", base + "/webhooks", "/console/orgs/" + e.org("ann@example.com") + "/members", "/console/account",
		"/console/signin", "/privacy/" + app.PublicID, "/console/nowhere"} {
		r := b.get(p)
		if r.Code != http.StatusOK && p != "/console/nowhere" && p != "/console/signin" {
			t.Errorf("%s: %d", p, r.Code)
		}
		csp := r.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") ||
			strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if r.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", p, r.Header().Get("Cache-Control"))
		}
		if !strings.HasPrefix(r.Header().Get("Content-Type"), "text/html") {
			continue
		}
		if inlineScript.MatchString(r.body) || strings.Contains(r.body, " style=") || strings.Contains(r.body, "<style") ||
			strings.Contains(r.body, " onclick=") {
			t.Errorf("%s: inline script or style", p)
		}
		if m := foreignRef.FindString(r.body); m != "" {
			t.Errorf("%s: a third-party URL in the page", p)
		}
		for _, w := range []string{`<a class="skip-link" href="#main">`, `<main id="main"`, `<html lang="en">`, `name="viewport"`} {
			if !strings.Contains(r.body, w) {
				t.Errorf("%s: lacks %s", p, w)
			}
		}
		css = regexp.MustCompile(`/static/console\.[0-9a-f]{12}\.css`).FindString(r.body)
		js = regexp.MustCompile(`/static/console\.[0-9a-f]{12}\.js`).FindString(r.body)
	}
	check(t, "404 page", b.get("/console/nowhere"), http.StatusNotFound, []string{"This page does not exist."}, nil)
	if css == "" || js == "" {
		t.Fatal("no hashed asset URL in the pages")
	}
	for _, p := range []string{css, js} {
		r := b.get(p)
		if r.Code != http.StatusOK || r.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" || len(r.body) < 1000 {
			t.Errorf("%s: %d %q %d bytes", p, r.Code, r.Header().Get("Cache-Control"), len(r.body))
		}
	}
	if r := b.get("/static/console.000000000000.css"); r.Code != http.StatusNotFound {
		t.Errorf("a stale asset hash: %d", r.Code)
	}
}
