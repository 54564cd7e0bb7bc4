package sqlite_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/likeness/likeness"
)

func TestAccountsAndMembers(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	if n, _ := db.CountUsers(ctx); n != 0 {
		t.Fatalf("%d users in a new store", n)
	}
	u, m, err := db.CreateAccount(ctx, likeness.AccountCreate{Email: " Ann@Example.COM ", PasswordHash: "$argon2id$x", OrgName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "ann@example.com" || m.Role != likeness.OrgOwner || m.Org.Name != "Acme" || u.SessionVersion != 1 ||
		!strings.HasPrefix(u.ID, "usr_") || !strings.HasPrefix(m.Org.ID, "org_") {
		t.Fatalf("account %+v, membership %+v", u, m)
	}
	_, _, err = db.CreateAccount(ctx, likeness.AccountCreate{Email: "ANN@example.com", PasswordHash: "h", OrgName: "Other"})
	wantCode(t, err, likeness.ECONFLICT)
	for _, bad := range []likeness.AccountCreate{
		{Email: "nope", PasswordHash: "h", OrgName: "O"},
		{Email: "a@b.c", PasswordHash: "h", OrgName: ""},
		{Email: "a@b.c", PasswordHash: "h", OrgName: "two\nlines"},
		{Email: "a@b.c", PasswordHash: "", OrgName: "O"},
	} {
		_, _, err := db.CreateAccount(ctx, bad)
		wantCode(t, err, likeness.EINVALID)
	}
	got, err := db.UserByEmail(ctx, "ANN@example.com")
	if err != nil || got.ID != u.ID || got.PasswordHash != "$argon2id$x" {
		t.Fatalf("UserByEmail: %+v %v", got, err)
	}
	_, err = db.UserByEmail(ctx, "bob@example.com")
	wantCode(t, err, likeness.ENOTFOUND)

	org := m.Org.ID
	// Nobody is added without accepting an invitation.
	_, _, err = db.CreateInvitation(ctx, org, "bob@example.com", "boss", u.ID, time.Hour)
	wantCode(t, err, likeness.EINVALID)
	_, _, err = db.CreateInvitation(ctx, org, "not an email", likeness.OrgViewer, u.ID, time.Hour)
	wantCode(t, err, likeness.EINVALID)
	_, old, err := db.CreateInvitation(ctx, org, "Bob@Example.com", likeness.OrgAdmin, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	inv, token, err := db.CreateInvitation(ctx, org, "bob@example.com", likeness.OrgViewer, u.ID, time.Hour)
	if err != nil || len(token) < 40 || inv.Email != "bob@example.com" {
		t.Fatalf("invitation %+v %q %v", inv, token, err)
	}
	if list, _ := db.Invitations(ctx, org); len(list) != 1 || list[0].Role != likeness.OrgViewer || list[0].InvitedBy != "ann@example.com" {
		t.Fatalf("a new invitation replaces the old one: %+v", list)
	}
	_, err = db.InvitationByToken(ctx, old)
	wantCode(t, err, likeness.ENOTFOUND)
	if members, _ := db.Members(ctx, org); len(members) != 1 {
		t.Fatal("invited before accepting")
	}
	// Only the invited email may accept.
	_, err = db.AcceptInvitation(ctx, token, u.ID)
	wantCode(t, err, likeness.EFORBIDDEN)
	_, _, err = db.AcceptInvitationNewAccount(ctx, token+"x", "hash")
	wantCode(t, err, likeness.ENOTFOUND)
	bu, bob, err := db.AcceptInvitationNewAccount(ctx, token, "hash")
	if err != nil || bu.Email != "bob@example.com" || bob.Role != likeness.OrgViewer || bu.MustChangePassword {
		t.Fatalf("accept: %+v %+v %v", bu, bob, err)
	}
	_, _, err = db.AcceptInvitationNewAccount(ctx, token, "hash") // used up
	wantCode(t, err, likeness.ENOTFOUND)
	// An account that exists accepts when signed in; twice is a conflict.
	_, again, _ := db.CreateInvitation(ctx, org, "bob@example.com", likeness.OrgAdmin, u.ID, time.Hour)
	_, _, err = db.AcceptInvitationNewAccount(ctx, again, "hash")
	wantCode(t, err, likeness.ECONFLICT)
	_, err = db.AcceptInvitation(ctx, again, bob.UserID)
	wantCode(t, err, likeness.ECONFLICT)
	// Withdrawn and expired invitations are gone.
	w, wt, _ := db.CreateInvitation(ctx, org, "cy@example.com", likeness.OrgViewer, u.ID, time.Hour)
	if err := db.RevokeInvitation(ctx, org, w.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.RevokeInvitation(ctx, org, w.ID), likeness.ENOTFOUND)
	_, err = db.InvitationByToken(ctx, wt)
	wantCode(t, err, likeness.ENOTFOUND)
	_, et, _ := db.CreateInvitation(ctx, org, "dee@example.com", likeness.OrgViewer, u.ID, -time.Second)
	_, err = db.InvitationByToken(ctx, et)
	wantCode(t, err, likeness.ENOTFOUND)

	members, _ := db.Members(ctx, org)
	if len(members) != 2 || members[0].Role != likeness.OrgOwner || members[1].Email != "bob@example.com" {
		t.Fatalf("members: %+v %+v", members[0], members[1])
	}
	// The last owner stays.
	wantCode(t, db.SetMemberRole(ctx, org, u.ID, likeness.OrgAdmin), likeness.EPRECONDITION)
	wantCode(t, db.RemoveMember(ctx, org, u.ID), likeness.EPRECONDITION)
	if err := db.SetMemberRole(ctx, org, bob.UserID, likeness.OrgOwner); err != nil {
		t.Fatal(err)
	}
	if err := db.SetMemberRole(ctx, org, u.ID, likeness.OrgViewer); err != nil {
		t.Fatalf("with two owners one may step down: %v", err)
	}
	if err := db.RemoveMember(ctx, org, u.ID); err != nil {
		t.Fatal(err)
	}
	_, err = db.Membership(ctx, org, u.ID)
	wantCode(t, err, likeness.ENOTFOUND)
	wantCode(t, db.RemoveMember(ctx, org, u.ID), likeness.ENOTFOUND)

	// Password change raises the session version.
	u2, err := db.SetPassword(ctx, bob.UserID, "new")
	if err != nil || u2.SessionVersion != 2 || u2.MustChangePassword || u2.PasswordHash != "new" {
		t.Fatalf("SetPassword: %+v %v", u2, err)
	}
	if err := db.RecordSignIn(ctx, bob.UserID); err != nil {
		t.Fatal(err)
	}
	if u3, _ := db.User(ctx, bob.UserID); u3.LastSignInAt == nil {
		t.Error("sign-in time not recorded")
	}

	// Every change is in the organization's chain, which verifies.
	entries, _ := db.AuditEntries(ctx, org, 0, 100)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	want := "organization.created member.added invitation.created invitation.created member.added invitation.accepted " +
		"invitation.created invitation.created invitation.revoked invitation.created " +
		"member.role_changed member.role_changed member.removed"
	if strings.Join(actions, " ") != want {
		t.Errorf("audit: %v\nwant %s", actions, want)
	}
	if n, problems, err := db.VerifyAudit(ctx, org); err != nil || len(problems) > 0 || n != 13 {
		t.Errorf("VerifyAudit: %d %v %v", n, problems, err)
	}
	// Hashes are never in the audit trail.
	for _, e := range entries {
		if bytes.Contains(e.Details, []byte("hash")) || bytes.Contains(e.Details, []byte("$argon2id$")) {
			t.Errorf("audit details %s", e.Details)
		}
	}
}

func TestClaimOrgs(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	a, _ := mustApp(t, db, "CLI app 1")
	b, _ := mustApp(t, db, "CLI app 2")
	u, own, err := db.CreateAccount(ctx, likeness.AccountCreate{Email: "ann@example.com", PasswordHash: "h", OrgName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	ok, err := db.ClaimOrg(ctx, a.OrgID, u.ID)
	if err != nil || !ok {
		t.Fatalf("ClaimOrg: %v %v", ok, err)
	}
	if ok, _ := db.ClaimOrg(ctx, a.OrgID, u.ID); ok {
		t.Error("an organization with members was claimed")
	}
	_, err = db.ClaimOrg(ctx, "org_nope", u.ID)
	wantCode(t, err, likeness.ENOTFOUND)
	n, err := db.ClaimUnownedOrgs(ctx, u.ID)
	if err != nil || n != 1 {
		t.Fatalf("ClaimUnownedOrgs: %d %v", n, err)
	}
	ms, _ := db.Memberships(ctx, u.ID)
	if len(ms) != 3 {
		t.Fatalf("%d memberships, want 3", len(ms))
	}
	apps, _ := db.OrgApps(ctx, b.OrgID)
	if len(apps) != 1 || apps[0].ID != b.ID {
		t.Errorf("OrgApps: %+v", apps)
	}
	if apps, _ := db.OrgApps(ctx, own.Org.ID); len(apps) != 0 {
		t.Errorf("a new organization has %d apps", len(apps))
	}
	o, err := db.Organization(ctx, own.Org.ID)
	if err != nil || o.Name != "Acme" {
		t.Errorf("Organization: %+v %v", o, err)
	}
}

func TestSessionsAndTokens(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	now := f.clock.Now()
	if err := db.RevokeSession(ctx, "sid-1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r, _ := db.SessionRevoked(ctx, "sid-1"); !r {
		t.Error("a revoked session is not")
	}
	if r, _ := db.SessionRevoked(ctx, "sid-2"); r {
		t.Error("an unknown session is revoked")
	}
	wantCode(t, db.RevokeSession(ctx, "", now), likeness.EINVALID)

	if err := db.UseToken(ctx, "jti-1", now.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.UseToken(ctx, "jti-1", now.Add(5*time.Minute)), likeness.ECONFLICT)
	wantCode(t, db.UseToken(ctx, "", now), likeness.EINVALID)
	// Expired entries are dropped: the table does not grow without bound.
	f.clock.Advance(2 * time.Hour)
	if err := db.UseToken(ctx, "jti-2", f.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := f.raw(t).QueryRow(`SELECT count(*) FROM used_tokens`).Scan(&n); err != nil || n != 1 {
		t.Errorf("used_tokens: %d rows %v", n, err)
	}
	k1, err := db.SessionKey("console-session")
	if err != nil || len(k1) != 32 {
		t.Fatal(err)
	}
	k2, _ := db.SessionKey("csrf")
	k1b, _ := db.SessionKey("console-session")
	if bytes.Equal(k1, k2) || !bytes.Equal(k1, k1b) {
		t.Error("session keys are not per purpose and stable")
	}
}

func TestOutcomesAndNotices(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	app, _ := mustApp(t, db, "Shop")
	for _, o := range []struct{ op, outcome string }{{"enroll", "ok"}, {"enroll", "ok"}, {"authenticate", "PAD_ATTACK"}} {
		if err := db.RecordOutcome(ctx, app.ID, o.op, o.outcome); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Advance(24 * time.Hour)
	if err := db.RecordOutcome(ctx, app.ID, "authenticate", "ok"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.RecordOutcome(ctx, app.ID, "delete", "ok"), likeness.EINVALID)
	wantCode(t, db.RecordOutcome(ctx, app.ID, "enroll", "pad attack"), likeness.EINVALID)
	wantCode(t, db.RecordOutcome(ctx, "nope", "enroll", "ok"), likeness.ENOTFOUND)
	got, err := db.Outcomes(ctx, app.ID, f.clock.Now().Add(-48*time.Hour))
	if err != nil || len(got) != 3 {
		t.Fatalf("Outcomes: %+v %v", got, err)
	}
	if got[0].Op != "authenticate" || got[0].Outcome != "PAD_ATTACK" || got[1].Count != 2 || got[2].Day.Sub(got[0].Day) != 24*time.Hour {
		t.Errorf("Outcomes: %+v", got)
	}
	if recent, _ := db.Outcomes(ctx, app.ID, f.clock.Now()); len(recent) != 1 {
		t.Errorf("Outcomes since today: %+v", recent)
	}
	// Deleting the application deletes its counts.
	if err := db.DeleteApp(ctx, app.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := f.raw(t).QueryRow(`SELECT count(*) FROM outcome_counts`).Scan(&n); err != nil || n != 0 {
		t.Errorf("outcome_counts after DeleteApp: %d %v", n, err)
	}

	app2, _ := mustApp(t, db, "Shop 2")
	for v := 1; v <= 2; v++ {
		if err := db.CreateNotice(ctx, &likeness.Notice{AppID: app2.ID, Version: v, Locale: "en", Title: "T", Text: strings.Repeat("x", v),
			SHA256: "h", CreatedAt: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := db.Notices(ctx, app2.ID)
	if err != nil || len(ns) != 2 || ns[0].Version != 2 {
		t.Fatalf("Notices: %+v %v", ns, err)
	}
	n1, err := db.Notice(ctx, app2.ID, "en", 1)
	if err != nil || n1.Text != "x" {
		t.Fatalf("Notice: %+v %v", n1, err)
	}
	_, err = db.Notice(ctx, app2.ID, "en", 3)
	wantCode(t, err, likeness.ENOTFOUND)
}
