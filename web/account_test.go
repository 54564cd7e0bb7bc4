package web

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/likeness/likeness"
)

func openSignUps(c *Config) { c.SignUp = SignUpOpen }

// rawCount runs a count query on the store's file, bypassing the store.
func (e *env) rawCount(q string, args ...any) int {
	e.t.Helper()
	r, err := sql.Open("sqlite", filepath.Join(e.dir, "likeness.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	var n int
	if err := r.QueryRow(q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestDeleteOrganization deletes an organization from the console: owners
// only, the export first, the exact name to confirm; then no face, image,
// vector entry or payload remains, the deletion webhooks are queued, and
// nobody can use the organization until an operator restores it, with its
// members and settings and without faces.
func TestDeleteOrganization(t *testing.T) {
	e := newEnv(t, openSignUps)
	ctx := context.Background()
	ann := e.signUp("ann@example.com", "Acme")
	org := e.org("ann@example.com")
	bob := e.signUp("bob@example.com", "Bob's")
	bob = e.join(ann, org, "bob@example.com", likeness.OrgAdmin, bob)
	app, sec := e.app(org, "Shop")
	if _, err := e.db.CreateWebhookEndpoint(ctx, app.ID, likeness.WebhookEndpointCreate{URL: "https://hooks.example/in"}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetWebhookIncludePayload(ctx, app.ID, true); err != nil {
		t.Fatal(err)
	}
	faces := []*likeness.Face{e.enroll(app, "cust-1", `{"vip":"payload-marker"}`), e.enroll(app, "cust-2", "")}
	base := "/console/orgs/" + org

	check(t, "admin: delete page", bob.get(base+"/delete"), http.StatusForbidden, []string{"Only owners"}, nil)
	check(t, "admin: export", bob.get(base+"/export"), http.StatusForbidden, nil, []string{"payload-marker"})
	bob.get("/console/apps")
	check(t, "admin: delete", bob.post(base+"/delete", url.Values{"confirm": {"Acme"}}), http.StatusForbidden, nil, nil)

	check(t, "delete page", ann.get(base+"/delete"), http.StatusOK,
		[]string{"Download the export (JSON)", "2 Facial IDs", "Type <strong>Acme</strong> to confirm", "account_deleted"}, neverShown)

	// The export: JSON, as a download, without biometrics or secrets.
	r := ann.get(base + "/export")
	check(t, "export", r, http.StatusOK, []string{`"ann@example.com"`, `"bob@example.com"`, app.PublicID, `"consentRecords"`, `"audit"`, `"settings"`},
		append([]string{"payload-marker", "whsec_", sec.APIKey}, neverShown...))
	if cd := r.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="likeness-export-Acme-`) {
		t.Errorf("export Content-Disposition %q", cd)
	}
	var x likeness.AccountExport
	if err := json.Unmarshal([]byte(r.body), &x); err != nil || len(x.ConsentRecords) != 2 || len(x.Members) != 2 || x.Applications[0].Faces != 2 {
		t.Errorf("export: %v %+v", err, x)
	}

	// A wrong confirmation deletes nothing.
	ann.get(base + "/delete")
	for _, typed := range []string{"", "acme", "Acme Inc", "Bob's"} {
		check(t, "confirm "+typed, ann.post(base+"/delete", url.Values{"confirm": {typed}}), http.StatusBadRequest,
			[]string{"Nothing was deleted"}, neverShown)
	}
	if n, _ := e.db.CountFaces(ctx, app.ID); n != 2 {
		t.Fatalf("%d faces after refused confirmations", n)
	}

	r = ann.post(base+"/delete", url.Values{"confirm": {" Acme "}})
	// Ann had no other organization: she is signed out, and cannot sign in.
	if r.Code != http.StatusSeeOther || r.location() != "/console/signin?done=org-deleted" {
		t.Fatalf("delete: %d %s\n%s", r.Code, r.location(), excerpt(r.body))
	}
	check(t, "after delete", ann.get("/console/signin?done=org-deleted"), http.StatusOK, []string{"The organization was deleted"}, []string{"Shop"})
	if r := ann.get("/console/apps"); r.Code != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/signin") {
		t.Errorf("Ann's session after the deletion: %d %s", r.Code, r.location())
	}
	ann.get("/console/signin")
	check(t, "sign in to a deleted organization", ann.post("/console/signin", url.Values{"email": {"ann@example.com"}, "password": {goodPass}}),
		http.StatusUnauthorized, []string{"The email or password is not right."}, nil)
	// Bob belongs to another organization too: he stays signed in, without Acme.
	check(t, "bob after delete", bob.get("/console/apps"), http.StatusOK, []string{"Bob&#39;s"}, []string{"Shop", "Acme"})

	// Nothing biometric is left: not in the database file, not in the index.
	if n := e.rawCount(`SELECT count(*) FROM faces WHERE app_id = ?`, app.ID) + e.rawCount(`SELECT count(*) FROM face_images WHERE app_id = ?`, app.ID) +
		e.rawCount(`SELECT count(*) FROM webhook_events WHERE app_id = ? AND payload_sealed IS NOT NULL`, app.ID); n != 0 {
		t.Errorf("%d faces, images or payloads left", n)
	}
	if n := e.db.Index().Len(app.CollectionID); n != 0 {
		t.Errorf("%d vector entries left", n)
	}
	if n := e.rawCount(`SELECT count(*) FROM webhook_events WHERE app_id = ? AND type = 'facialid.deleted' AND reason = 'account_deleted'
		AND facial_id IN (?, ?)`, app.ID, faces[0].FacialID, faces[1].FacialID); n != 2 {
		t.Errorf("%d account_deleted webhooks queued, want 2", n)
	}

	// The organization cannot be used by anyone.
	for _, b := range []*browser{bob} { // Ann is signed out (above)
		for _, p := range []string{base + "/members", base + "/audit", base + "/delete", base + "/export", "/console/apps/" + app.PublicID,
			"/console/apps/" + app.PublicID + "/faces/" + faces[0].FacialID} {
			check(t, "deleted "+p, b.get(p), http.StatusNotFound, nil, []string{"payload-marker"})
		}
	}
	check(t, "privacy page", e.browser().get("/privacy/"+app.PublicID), http.StatusNotFound, nil, nil)
	if _, err := e.db.VerifyAPIKey(ctx, sec.APIKey); likeness.ErrorCode(err) != likeness.EUNAUTHORIZED {
		t.Errorf("API key after deletion: %v", err)
	}
	check(t, "Bob's own organization", bob.get("/console/orgs/"+e.org("bob@example.com")+"/members"), http.StatusOK, nil, nil)

	// Restored by an operator: members and settings, no faces.
	e.clock.Advance(30 * 24 * time.Hour)
	if _, err := e.db.RestoreOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	ann = e.signIn("ann@example.com", goodPass) // 30 days later: a new session
	check(t, "restored members", ann.get(base+"/members"), http.StatusOK, []string{"bob@example.com"}, nil)
	check(t, "restored faces", ann.get("/console/apps/"+app.PublicID+"/faces"), http.StatusOK, nil, []string{faces[0].FacialID, "cust-1"})
}

// TestDeleteOwnAccount: a sole owner must hand over or delete the
// organization first; then the password deletes the account and its
// session, audited in the organizations it left.
func TestDeleteOwnAccount(t *testing.T) {
	e := newEnv(t, openSignUps)
	ctx := context.Background()
	ann := e.signUp("ann@example.com", "Acme")
	acme := e.org("ann@example.com")
	cy := e.signUp("cy@example.com", "Cy")
	cyOrg := e.org("cy@example.com")
	cy = e.join(ann, acme, "cy@example.com", likeness.OrgViewer, cy)
	check(t, "account page", cy.get("/console/account"), http.StatusOK, []string{`href="/console/account/delete"`}, nil)
	check(t, "sole owner", cy.get("/console/account/delete"), http.StatusOK, []string{"You are the only owner of", "Cy</a>"},
		[]string{`action="/console/account/delete"`})
	cy.get("/console/account")
	check(t, "sole owner post", cy.post("/console/account/delete", url.Values{"password": {goodPass}}), http.StatusPreconditionFailed,
		[]string{"only owner of Cy"}, neverShown)

	cy.get("/console/orgs/" + cyOrg + "/delete")
	if r := cy.post("/console/orgs/"+cyOrg+"/delete", url.Values{"confirm": {"Cy"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("delete Cy: %d", r.Code)
	}
	check(t, "delete page", cy.get("/console/account/delete"), http.StatusOK, []string{`action="/console/account/delete"`}, []string{"only owner"})
	check(t, "wrong password", cy.post("/console/account/delete", url.Values{"password": {"not the password"}}), http.StatusUnauthorized,
		[]string{"Nothing was deleted"}, neverShown)
	if _, err := e.db.UserByEmail(ctx, "cy@example.com"); err != nil {
		t.Fatal("deleted with a wrong password")
	}
	r := cy.post("/console/account/delete", url.Values{"password": {goodPass}})
	if r.Code != http.StatusSeeOther || r.location() != "/console/signin?done=account-deleted" {
		t.Fatalf("delete account: %d %s\n%s", r.Code, r.location(), excerpt(r.body))
	}
	if _, err := e.db.UserByEmail(ctx, "cy@example.com"); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Errorf("the account still exists: %v", err)
	}
	if r := cy.get("/console/apps"); r.Code != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/signin") {
		t.Errorf("the deleted account's session still works: %d %s", r.Code, r.location())
	}
	es, err := e.db.AuditEntries(ctx, acme, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, en := range es {
		found = found || (en.Action == "member.account_deleted" && strings.Contains(string(en.Details), "cy@example.com"))
	}
	if !found {
		t.Error("Acme's audit trail does not record that Cy left")
	}
}
