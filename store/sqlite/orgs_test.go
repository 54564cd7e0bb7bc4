package sqlite_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
)

// TestDeleteOrg: deleting an organization erases every face, image, vector
// entry and payload at once, queues facialid.deleted (account_deleted) for
// each Facial ID, disables the organization, destroys the keys once those
// are delivered, can be undone within 90 days without biometrics, and is
// purged after that. Another organization is untouched throughout.
func TestDeleteOrg(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	app, _, _ := hookApp(t, db, "Shop")
	org := app.OrgID
	app2, sec2, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Shop 2", Origins: []string{"https://two.example"}, OrgID: org})
	if err != nil {
		t.Fatal(err)
	}
	other, otherSec := mustApp(t, db, "Other")
	if err := db.SetWebhookIncludePayload(ctx, app.ID, true); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := db.UpdateCollection(ctx, app.ID, likeness.CollectionPatch{StoreImages: &yes}); err != nil {
		t.Fatal(err)
	}
	set, err := db.Settings(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	set.AllowedCountries = []string{"FR", "BE"}
	if _, err := db.UpdateSettings(ctx, app.ID, *set); err != nil {
		t.Fatal(err)
	}
	owner, _, err := db.CreateAccount(ctx, likeness.AccountCreate{Email: "owner@shop.example", PasswordHash: "x", OrgName: "Elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := db.ClaimOrg(ctx, org, owner.ID); err != nil || !ok {
		t.Fatal(ok, err)
	}
	viewer, _, err := db.CreateAccount(ctx, likeness.AccountCreate{Email: "viewer@shop.example", PasswordHash: "x", OrgName: "Viewer's"})
	if err != nil {
		t.Fatal(err)
	}
	if _, tok, err := db.CreateInvitation(ctx, org, viewer.Email, likeness.OrgViewer, owner.ID, time.Hour); err != nil {
		t.Fatal(err)
	} else if _, err := db.AcceptInvitation(ctx, tok, viewer.ID); err != nil {
		t.Fatal(err)
	}
	// A member only of this organization: purged with it.
	if _, tok, err := db.CreateInvitation(ctx, org, "only@shop.example", likeness.OrgAdmin, owner.ID, time.Hour); err != nil {
		t.Fatal(err)
	} else if _, _, err := db.AcceptInvitationNewAccount(ctx, tok, "x"); err != nil {
		t.Fatal(err)
	}

	r := rand.New(rand.NewPCG(7, 7))
	var faces []*likeness.Face
	for i, a := range []string{app.ID, app.ID, app2.ID} {
		in := likeness.Enrollment{AppID: a, ConsentID: hookConsent(t, db, a), ExternalID: "ext-marker-" + string(rune('a'+i)),
			Payload: json.RawMessage(`{"secret":"payload-marker"}`), Template: randTemplate(r, 16),
			Images: [][]byte{[]byte("image-bytes")}}
		face, err := db.Enroll(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		faces = append(faces, face)
	}
	kept := hookEnroll(t, db, other.ID, "other-person", "")
	raw := f.raw(t)
	var sealed [][]byte
	rows, err := raw.Query(`SELECT template_sealed FROM faces WHERE app_id IN (?, ?)
		UNION ALL SELECT image_sealed FROM face_images WHERE app_id IN (?, ?)`, app.ID, app2.ID, app.ID, app2.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, b)
	}
	rows.Close()
	if len(sealed) < 4 {
		t.Fatalf("%d sealed templates and images before deletion, want at least 4", len(sealed))
	}
	// The enrollment events are delivered; what stays pending is the deletion's.
	var done []*likeness.WebhookResult
	for _, task := range claimAll(t, db, f.clock.Now()) {
		done = append(done, &likeness.WebhookResult{Task: task, StartedAt: f.clock.Now(), Succeeded: true, StatusCode: 200})
	}
	complete(t, db, done...)

	// The export offered first: members, applications and settings,
	// consent records and audit, and no biometrics or secrets.
	x, err := db.ExportOrg(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(x)
	if len(x.Members) != 3 || len(x.Applications) != 2 || len(x.ConsentRecords) != 3 || len(x.Audit) == 0 {
		t.Fatalf("export: %d members, %d applications, %d consent records, %d audit entries",
			len(x.Members), len(x.Applications), len(x.ConsentRecords), len(x.Audit))
	}
	ea := x.Applications[0]
	if ea.PublicID != app.PublicID {
		ea = x.Applications[1]
	}
	if ea.Faces != 2 || !slices.Equal(ea.Settings.AllowedCountries, []string{"FR", "BE"}) || len(ea.Webhooks) != 1 {
		t.Fatalf("exported application: %+v", ea)
	}
	for _, bad := range []string{"payload-marker", "whsec_", "image-bytes", sec2.APIKey, "password"} {
		if strings.Contains(string(js), bad) {
			t.Errorf("the export holds %q", bad)
		}
	}

	d, err := db.DeleteOrg(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	if d.FacesErased != 3 || d.Applications != 2 || !d.PurgeAfter.Equal(d.DeletedAt.Add(likeness.OrgRetention)) {
		t.Errorf("deletion %+v", d)
	}
	_, err = db.DeleteOrg(ctx, org)
	wantCode(t, err, likeness.ENOTFOUND)

	// At once: no face, image, vector entry or payload in the file or the index.
	for _, q := range []string{`SELECT count(*) FROM faces WHERE app_id IN (?1, ?2)`,
		`SELECT count(*) FROM face_images WHERE app_id IN (?1, ?2)`,
		`SELECT count(*) FROM webhook_events WHERE app_id IN (?1, ?2) AND payload_sealed IS NOT NULL`} {
		var n int
		if err := raw.QueryRow(q, app.ID, app2.ID).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d %v", q, n, err)
		}
	}
	for _, a := range []*likeness.Application{app, app2} {
		if n := db.Index().Len(a.CollectionID); n != 0 {
			t.Errorf("%s: %d vector entries after deletion", a.Name, n)
		}
	}
	file := f.fileBytes(t)
	for _, s := range sealed {
		if bytes.Contains(file, s) {
			t.Error("a sealed template or image is still in the database file")
		}
	}

	// The webhooks: one facialid.deleted with reason account_deleted per
	// Facial ID of an application with an endpoint, without payload.
	tasks := claimAll(t, db, f.clock.Now())
	var got []string
	for _, task := range tasks {
		if task.Event.Type != likeness.EventDeleted || task.Event.Reason != likeness.ReasonAccountDeleted || task.Event.Payload != nil {
			t.Errorf("event %+v", task.Event)
		}
		got = append(got, task.Event.FacialID)
	}
	slices.Sort(got)
	want := []string{faces[0].FacialID, faces[1].FacialID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("deletion events for %v, want %v", got, want)
	}

	// The organization cannot be used.
	_, err = db.AppByPublicID(ctx, app.PublicID)
	wantCode(t, err, likeness.ENOTFOUND)
	_, err = db.VerifyAPIKey(ctx, sec2.APIKey)
	wantCode(t, err, likeness.EUNAUTHORIZED)
	_, err = db.Membership(ctx, org, owner.ID)
	wantCode(t, err, likeness.ENOTFOUND)
	if ms, err := db.Memberships(ctx, viewer.ID); err != nil || len(ms) != 1 || ms[0].Org.ID == org {
		t.Errorf("the viewer's memberships: %v %v", ms, err)
	}
	// An account in no other organization is disabled with it; one in another is not.
	_, err = db.UserByEmail(ctx, "only@shop.example")
	wantCode(t, err, likeness.ENOTFOUND)
	if _, err := db.UserByEmail(ctx, viewer.Email); err != nil {
		t.Errorf("a member of another organization too: %v", err)
	}
	// The other organization is untouched.
	if _, err := db.VerifyAPIKey(ctx, otherSec.APIKey); err != nil {
		t.Error(err)
	}
	if _, err := db.Face(ctx, other.ID, kept.FacialID); err != nil || db.Index().Len(other.CollectionID) != 1 {
		t.Errorf("the other organization's face: %v", err)
	}

	// The keys stay while deliveries are pending, and go once they are done.
	if n, err := db.FinishOrgDeletions(ctx, likeness.DeletionKeyWait); err != nil || n != 0 {
		t.Fatalf("finished %d (%v) with deliveries pending", n, err)
	}
	var results []*likeness.WebhookResult
	for _, task := range tasks {
		results = append(results, &likeness.WebhookResult{Task: task, StartedAt: f.clock.Now(), Succeeded: true, StatusCode: 204})
	}
	complete(t, db, results...)
	if n, err := db.FinishOrgDeletions(ctx, likeness.DeletionKeyWait); err != nil || n != 1 {
		t.Fatalf("finished %d (%v) after delivery", n, err)
	}
	var keys, consent, events int
	if err := raw.QueryRow(`SELECT (SELECT count(*) FROM applications WHERE org_id = ?1 AND data_key_wrapped IS NOT NULL),
		(SELECT count(*) FROM consent_records WHERE app_id IN (?2, ?3)),
		(SELECT count(*) FROM webhook_events WHERE app_id IN (?2, ?3))`, org, app.ID, app2.ID).Scan(&keys, &consent, &events); err != nil {
		t.Fatal(err)
	}
	if keys != 0 || consent != 0 || events != 0 {
		t.Errorf("after the keys went: %d keys, %d consent records, %d events", keys, consent, events)
	}
	// The deletion events named the site's external IDs until delivered; now nothing does.
	if bytes.Contains(f.fileBytes(t), []byte("ext-marker-")) {
		t.Error("an external ID is still in the database file")
	}

	// Restore within 90 days: members and settings, no biometrics, no keys.
	f.clock.Advance(89 * 24 * time.Hour)
	if _, err := db.RestoreOrg(ctx, other.OrgID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Errorf("restoring an organization in use: %v", err)
	}
	if _, err := db.RestoreOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UserByEmail(ctx, "only@shop.example"); err != nil {
		t.Errorf("the account after restore: %v", err)
	}
	if ms, err := db.Members(ctx, org); err != nil || len(ms) != 3 {
		t.Errorf("members after restore: %v %v", ms, err)
	}
	if s, err := db.Settings(ctx, app.ID); err != nil || !slices.Equal(s.AllowedCountries, []string{"FR", "BE"}) {
		t.Errorf("settings after restore: %+v %v", s, err)
	}
	if n, err := db.CountFaces(ctx, app.ID); err != nil || n != 0 || db.Index().Len(app.CollectionID) != 0 {
		t.Errorf("faces after restore: %d %v", n, err)
	}
	if keys, err := db.ListAPIKeys(ctx, app2.ID); err != nil || len(keys) != 0 {
		t.Errorf("API keys after restore: %d %v", len(keys), err)
	}
	if _, err := db.AppByPublicID(ctx, app.PublicID); err != nil {
		t.Errorf("the restored application: %v", err)
	}
	mustEnroll(t, db, app.ID, randTemplate(r, 16)) // a new data key works

	// Deleted again and past 90 days: no restore; the purge removes the rest.
	if _, err := db.DeleteOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PurgeDeletedOrgs(ctx, likeness.OrgRetention); err != nil || n != 0 {
		t.Fatalf("purged %d (%v) too early", n, err)
	}
	f.clock.Advance(likeness.OrgRetention)
	_, err = db.RestoreOrg(ctx, org)
	wantCode(t, err, likeness.EPRECONDITION)
	if n, err := db.PurgeDeletedOrgs(ctx, likeness.OrgRetention); err != nil || n != 1 {
		t.Fatalf("purged %d (%v)", n, err)
	}
	_, err = db.Organization(ctx, org)
	wantCode(t, err, likeness.ENOTFOUND)
	_, err = db.UserByEmail(ctx, "only@shop.example")
	wantCode(t, err, likeness.ENOTFOUND)
	if _, err := db.UserByEmail(ctx, viewer.Email); err != nil {
		t.Errorf("a member of another organization was purged: %v", err)
	}
	var left int
	if err := raw.QueryRow(`SELECT (SELECT count(*) FROM audit_events WHERE org_id = ?1) + (SELECT count(*) FROM org_members WHERE org_id = ?1)
		+ (SELECT count(*) FROM applications WHERE org_id = ?1)`, org).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d rows of the purged organization left (%v)", left, err)
	}
	if n, problems, err := db.VerifyAudit(ctx, other.OrgID); err != nil || len(problems) != 0 || n == 0 {
		t.Errorf("the other organization's audit: %d %v %v", n, problems, err)
	}
}

// TestDeleteUser: a member deletes their own account; a sole owner must
// hand over first.
func TestDeleteUser(t *testing.T) {
	db := newFixture(t).open(t)
	owner, m, err := db.CreateAccount(ctx, likeness.AccountCreate{Email: "a@x.example", PasswordHash: "x", OrgName: "X"})
	if err != nil {
		t.Fatal(err)
	}
	other := joinNew(t, db, m.Org.ID, "b@x.example", likeness.OrgViewer, owner.ID)
	wantCode(t, db.DeleteUser(ctx, owner.ID), likeness.EPRECONDITION)
	if err := db.DeleteUser(ctx, other.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.User(ctx, other.UserID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Errorf("deleted account: %v", err)
	}
	if joinNew(t, db, m.Org.ID, "c@x.example", likeness.OrgOwner, owner.ID) == nil {
		t.Fatal(err)
	}
	if err := db.DeleteUser(ctx, owner.ID); err != nil {
		t.Fatalf("an owner with another owner: %v", err)
	}
	wantCode(t, db.DeleteUser(ctx, owner.ID), likeness.ENOTFOUND)
	es, err := db.AuditEntries(ctx, m.Org.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Action == "member.account_deleted" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d account deletions audited, want 2", n)
	}
}

// joinNew invites email into org as role and accepts by making the
// account: the one way a new member joins.
func joinNew(t *testing.T, db *sqlite.DB, org, email, role, by string) *likeness.Membership {
	t.Helper()
	_, tok, err := db.CreateInvitation(ctx, org, email, role, by, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, m, err := db.AcceptInvitationNewAccount(ctx, tok, "x")
	if err != nil {
		t.Fatal(err)
	}
	return m
}
