package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/likeness/likeness"
)

func TestSupportAllows(t *testing.T) {
	now := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	op := &likeness.User{ID: "usr_op", Operator: true}
	member := &likeness.User{ID: "usr_m"}
	g := &likeness.SupportGrant{CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}
	revoked := *g
	revoked.RevokedAt = &now
	future := &likeness.SupportGrant{CreatedAt: now.Add(time.Minute), ExpiresAt: now.Add(2 * time.Hour)}
	for _, tc := range []struct {
		name   string
		u      *likeness.User
		g      *likeness.SupportGrant
		method string
		at     time.Time
		want   bool
	}{
		{"operator, running grant, GET", op, g, http.MethodGet, now, true},
		{"operator, HEAD", op, g, http.MethodHead, now, true},
		{"operator, POST (read-only)", op, g, http.MethodPost, now, false},
		{"operator, DELETE", op, g, http.MethodDelete, now, false},
		{"operator, no grant", op, nil, http.MethodGet, now, false},
		{"operator, at the expiry", op, g, http.MethodGet, g.ExpiresAt, false},
		{"operator, revoked", op, &revoked, http.MethodGet, now, false},
		{"operator, grant dated in the future", op, future, http.MethodGet, now, false},
		{"not an operator, running grant", member, g, http.MethodGet, now, false},
		{"nobody", nil, g, http.MethodGet, now, false},
	} {
		if got := likeness.SupportAllows(tc.u, tc.g, tc.method, tc.at); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	for d, ok := range map[time.Duration]bool{0: false, time.Hour - time.Second: false, time.Hour: true, 7 * 24 * time.Hour: true,
		7*24*time.Hour + time.Second: false, -time.Hour: false} {
		if err := likeness.CheckSupportDuration(d); (err == nil) != ok {
			t.Errorf("duration %v: %v", d, err)
		}
	}
}

var grantRevoke = regexp.MustCompile(`/support/(sup_[A-Za-z0-9]+)/revoke`)

// TestSupportAccess: operators see nothing of an organization (404) until
// an owner grants support access; then they read its pages, change
// nothing, every page they open is in the audit trail, and the owner sees
// the grant and its use; revoking or expiry ends it.
func TestSupportAccess(t *testing.T) {
	e := newEnv(t, openSignUps)
	ctx := context.Background()
	ann := e.signUp("ann@example.com", "Acme")
	org := e.org("ann@example.com")
	app, _ := e.app(org, "Shop")
	face := e.enroll(app, "cust-1", `{"vip":"payload-marker"}`)
	e.signUp("op@likeness.example", "Ops")
	u, err := e.db.UserByEmail(ctx, "op@likeness.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetOperator(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	op := e.signIn("op@likeness.example", goodPass)
	bob := e.signUp("bob@example.com", "Bob's") // neither member nor operator

	base, appBase := "/console/orgs/"+org, "/console/apps/"+app.PublicID
	orgPages := []string{base + "/members", base + "/audit", base + "/support", base + "/export", appBase, appBase + "/faces",
		appBase + "/faces/" + face.FacialID, appBase + "/keys", appBase + "/webhooks", appBase + "/security"}
	for _, p := range orgPages {
		check(t, "no grant "+p, op.get(p), http.StatusNotFound, nil, []string{"payload-marker", "cust-1", "Acme"})
	}
	check(t, "operator list, no grant", op.get("/console/support"), http.StatusOK,
		[]string{"No organization grants support access now.", `data-testid="nav-support"`}, []string{"Acme"})
	check(t, "no support link for others", bob.get("/console/apps"), http.StatusOK, nil, []string{`data-testid="nav-support"`})
	check(t, "not an operator", bob.get("/console/support"), http.StatusNotFound, nil, nil)

	// Grants: 1 hour to 7 days.
	check(t, "support page", ann.get(base+"/support"), http.StatusOK, []string{"Grant support access", "None."}, neverShown)
	for _, h := range []string{"0", "169", "-1", "two", ""} {
		check(t, "hours "+h, ann.post(base+"/support", url.Values{"hours": {h}}), http.StatusBadRequest, []string{"1 hour", "168"}, neverShown)
	}
	if r := ann.post(base+"/support", url.Values{"hours": {"2"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("grant: %d\n%s", r.Code, excerpt(r.body))
	}
	check(t, "bob still sees nothing", bob.get(appBase+"/faces"), http.StatusNotFound, nil, []string{"cust-1"})

	// Read-only pages, each audited.
	check(t, "operator list", op.get("/console/support"), http.StatusOK, []string{"Acme", appBase}, nil)
	check(t, "faces", op.get(appBase+"/faces"), http.StatusOK, []string{"cust-1", `data-testid="support-banner"`}, neverShown)
	check(t, "members", op.get(base+"/members"), http.StatusOK, []string{"ann@example.com", `data-testid="support-banner"`}, []string{"Add a member"})
	check(t, "audit is owners'", op.get(base+"/audit"), http.StatusForbidden, nil, []string{"support.granted"})
	op.get(appBase)
	check(t, "rename", op.post(appBase+"/rename", url.Values{"name": {"Hacked"}}), http.StatusForbidden, []string{"read-only"}, nil)
	check(t, "delete face", op.post(appBase+"/faces/"+face.FacialID+"/delete", nil), http.StatusForbidden, nil, nil)
	if a, err := e.db.AppByPublicID(ctx, app.PublicID); err != nil || a.Name != "Shop" {
		t.Errorf("the application after an operator's POST: %+v %v", a, err)
	}
	if _, err := e.db.Face(ctx, app.ID, face.FacialID); err != nil {
		t.Errorf("the face after an operator's POST: %v", err)
	}
	es, err := e.db.AuditEntries(ctx, org, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var viewed []string
	for _, en := range es {
		if en.Action == "support.page_viewed" {
			if !strings.HasPrefix(en.Actor, "support:") {
				t.Errorf("support view audited as %q", en.Actor)
			}
			viewed = append(viewed, string(en.Details))
		}
	}
	if len(viewed) != 4 || !strings.Contains(strings.Join(viewed, " "), appBase+"/faces") {
		t.Errorf("audited page views: %v", viewed)
	}

	// The owner sees the grant and its use, and revokes it.
	r := ann.get(base + "/support")
	check(t, "owner sees use", r, http.StatusOK, []string{`data-testid="support-active"`, "op@likeness.example", appBase + "/faces", "ann@example.com"}, neverShown)
	m := grantRevoke.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no revoke form")
	}
	check(t, "admin cannot see support page", bob.get(base+"/support"), http.StatusNotFound, nil, nil)
	if r := ann.post(base+"/support/"+m[1]+"/revoke", nil); r.Code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.Code)
	}
	for _, p := range orgPages {
		check(t, "revoked "+p, op.get(p), http.StatusNotFound, nil, []string{"payload-marker", "cust-1"})
	}
	ann.get(base + "/support")
	check(t, "revoke twice", ann.post(base+"/support/"+m[1]+"/revoke", nil), http.StatusNotFound, nil, nil)

	// A new grant ends by itself.
	ann.get(base + "/support")
	ann.post(base+"/support", url.Values{"hours": {"1"}})
	check(t, "second grant", op.get(appBase+"/faces"), http.StatusOK, []string{"cust-1"}, nil)
	e.clock.Advance(time.Hour)
	op = e.signIn("op@likeness.example", goodPass)
	check(t, "expired", op.get(appBase+"/faces"), http.StatusNotFound, nil, []string{"cust-1"})
}
