package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/likeness/likeness"
)

// TestCreateAppRedirect: creating an application redirects to its overview,
// which shows the first API key once: not on reload, not to another
// browser of the same account, not after onceTTL, not from a tampered
// cookie, and not on another application's page.
func TestCreateAppRedirect(t *testing.T) {
	e := newEnv(t)
	b := e.signUp("ann@example.com", "Acme")
	org := e.org("ann@example.com")
	other, _ := e.app(org, "Other")
	create := func(name string) (string, reply) {
		t.Helper()
		b.get("/console/apps")
		r := b.post("/console/apps", url.Values{"org": {org}, "name": {name}, "origins": {"https://shop.example"}})
		pid := publicIDs.FindString(r.location())
		if r.Code != http.StatusSeeOther || pid == "" {
			t.Fatalf("create %s: %d %q", name, r.Code, r.location())
		}
		return pid, r
	}

	// Another browser of the same account: a different session.
	pid, _ := create("Shop")
	second := e.signIn("ann@example.com", goodPass)
	second.cookies[onceCookie] = b.cookies[onceCookie]
	check(t, "another session", second.get("/console/apps/"+pid), http.StatusOK, []string{"Shop"}, []string{"Your first API key", "lk_"})

	// Another application's page takes (and drops) the cookie, shows nothing.
	create("Shop 2")
	check(t, "another page", b.get("/console/apps/"+other.PublicID), http.StatusOK, []string{"Other"}, []string{"Your first API key", "lk_"})
	if b.cookies[onceCookie] != nil {
		t.Error("the one-time cookie outlived a page view")
	}

	// Too late.
	pid, _ = create("Shop 3")
	e.clock.Advance(onceTTL + time.Second)
	check(t, "expired", b.get("/console/apps/"+pid), http.StatusOK, []string{"Shop 3"}, []string{"Your first API key", "lk_"})

	// Tampered.
	pid, _ = create("Shop 4")
	v := b.cookies[onceCookie].Value
	b.cookies[onceCookie].Value = v[:len(v)-2] + "AA"
	check(t, "tampered", b.get("/console/apps/"+pid), http.StatusOK, []string{"Shop 4"}, []string{"Your first API key", "lk_"})

	// The cookie is HttpOnly, Secure, SameSite=Strict and short-lived.
	_, r := create("Shop 5")
	var ck *http.Cookie
	for _, c := range r.Result().Cookies() {
		if c.Name == onceCookie {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge > int(onceTTL.Seconds()) ||
		strings.Contains(ck.Value, "lk_") {
		t.Errorf("one-time cookie: %+v", ck)
	}
}

// TestCreateAppPreselectsOrg: the create form selects the organization the
// person came from (?org=), and keeps it when the form is refused.
func TestCreateAppPreselectsOrg(t *testing.T) {
	e := newEnv(t)
	ann := e.signUp("ann@example.com", "Acme")
	bob := e.signUp2("bob@example.com")
	bobOrg := e.org("bob@example.com")
	e.join(bob, bobOrg, "ann@example.com", "admin", ann)
	selected := `<option value="` + bobOrg + `" selected>`
	check(t, "from Bob's organization", ann.get("/console/apps?org="+bobOrg), http.StatusOK,
		[]string{selected, `href="/console/apps?org=` + bobOrg + `#new-app"`}, nil)
	check(t, "no org named", ann.get("/console/apps"), http.StatusOK, []string{"Org of bob@example.com"}, []string{selected})
	check(t, "unknown org named", ann.get("/console/apps?org=org_nope"), http.StatusOK, []string{"Acme"}, []string{" selected>"})
	// The organization in the breadcrumb of its pages leads there.
	check(t, "crumb", ann.get("/console/orgs/"+bobOrg+"/members"), http.StatusOK,
		[]string{`href="/console/apps?org=` + bobOrg + `#org-` + bobOrg + `"`}, nil)
	r := ann.post("/console/apps", url.Values{"org": {bobOrg}, "name": {"Kept"}, "origins": {" "}})
	check(t, "refused, org kept", r, http.StatusBadRequest, []string{"Add at least one allowed origin", selected, `value="Kept"`}, nil)
}

// TestWebhookHost is the console's check of a webhook URL's host, including
// what someone reaching for internal services would try.
func TestWebhookHost(t *testing.T) {
	for _, tc := range []struct {
		url     string
		private bool // refused unless private addresses are allowed
		never   bool // refused even then
	}{
		{"https://hooks.example/in", false, false},
		{"https://93.184.215.14/in", false, false},
		{"not a url", false, false}, // the store's validation answers
		{"http://127.0.0.1:8080/hook", true, false},
		{"http://127.1.2.3/", true, false},
		{"http://localhost/hook", true, false},
		{"http://LOCALHOST./hook", true, false},
		{"http://api.localhost/hook", true, false},
		{"http://[::1]/hook", true, false},
		{"http://[::ffff:127.0.0.1]/hook", true, false},
		{"http://10.1.2.3/hook", true, false},
		{"http://192.168.1.10/hook", true, false},
		{"http://172.16.0.1/hook", true, false},
		{"http://[fd00::1]/hook", true, false},
		{"http://169.254.169.254/latest/meta-data", false, true}, // cloud metadata
		{"http://0.0.0.0/hook", false, true},
	} {
		strict, lax := checkWebhookHost(tc.url, false), checkWebhookHost(tc.url, true)
		switch {
		case tc.never && (strict == nil || lax == nil):
			t.Errorf("%s: allowed (%v, %v)", tc.url, strict, lax)
		case tc.private && (strict == nil || lax != nil):
			t.Errorf("%s: strict %v, allowing private %v", tc.url, strict, lax)
		case !tc.private && !tc.never && (strict != nil || lax != nil):
			t.Errorf("%s: refused: %v %v", tc.url, strict, lax)
		}
		if tc.private && strict != nil && !strings.Contains(likeness.ErrorMessage(strict), "--webhook-allow-private") {
			t.Errorf("%s: the message does not name the flag: %q", tc.url, likeness.ErrorMessage(strict))
		}
	}
}

func TestWebhookPrivateAddress(t *testing.T) {
	for _, allow := range []bool{false, true} {
		e := newEnv(t, func(c *Config) { c.WebhookAllowPrivate = allow })
		b := e.signUp("ann@example.com", "Acme")
		app, _ := e.app(e.org("ann@example.com"), "Shop")
		base := "/console/apps/" + app.PublicID + "/webhooks"
		b.get(base)
		r := b.post(base, url.Values{"url": {"http://127.0.0.1:9000/hook"}, "events": {likeness.EventDeleted}})
		eps, _ := e.db.WebhookEndpoints(context.Background(), app.ID)
		if !allow {
			check(t, "private refused", r, http.StatusBadRequest, []string{"private or loopback address", "--webhook-allow-private",
				`value="http://127.0.0.1:9000/hook"`}, append([]string{"whsec_"}, neverShown...))
			if len(eps) != 0 {
				t.Errorf("a refused endpoint was stored: %+v", eps)
			}
			// Editing an endpoint to a private address is refused the same way.
			r = b.post(base, url.Values{"url": {"https://hooks.example/in"}})
			eps, _ = e.db.WebhookEndpoints(context.Background(), app.ID)
			b.get(base + "/" + eps[0].ID)
			r = b.post(base+"/"+eps[0].ID, url.Values{"url": {"http://[::1]/in"}, "enabled": {"on"}})
			check(t, "edit to private", r, http.StatusBadRequest, []string{"--webhook-allow-private", `value="http://[::1]/in"`}, nil)
			if got, _ := e.db.WebhookEndpoint(context.Background(), app.ID, eps[0].ID); got.URL != "https://hooks.example/in" {
				t.Errorf("the refused edit was saved: %s", got.URL)
			}
			continue
		}
		check(t, "private allowed", r, http.StatusCreated, []string{"shown only once"}, nil)
		if len(eps) != 1 {
			t.Errorf("endpoints: %+v", eps)
		}
	}
}

// TestRefusedOriginWarning: the overview warns when the widget refused
// sites for their origin lately, and says nothing otherwise.
func TestRefusedOriginWarning(t *testing.T) {
	e := newEnv(t)
	b := e.signUp("ann@example.com", "Acme")
	app, _ := e.app(e.org("ann@example.com"), "Shop")
	base := "/console/apps/" + app.PublicID
	ctx := context.Background()
	if err := e.db.RecordOutcome(ctx, app.ID, "authenticate", likeness.FioTooManyRequests.String()); err != nil {
		t.Fatal(err)
	}
	check(t, "no refusal", b.get(base), http.StatusOK, []string{"Shop"}, []string{"Sites are being refused"})
	for range 2 {
		if err := e.db.RecordOutcome(ctx, app.ID, "enroll", likeness.FioForbiddenOrigin.String()); err != nil {
			t.Fatal(err)
		}
	}
	check(t, "refused", b.get(base), http.StatusOK, []string{"Sites are being refused", "2 sessions", "FORBIDDDEN_ORIGIN",
		`href="#origins-h"`}, nil)
	e.clock.Advance(8 * 24 * time.Hour)
	b = e.signIn("ann@example.com", goodPass)
	check(t, "a week later", b.get(base), http.StatusOK, []string{"Shop"}, []string{"Sites are being refused"})
}

// TestSoleOwner: the only owner is neither removed nor demoted, and the
// members page says why instead of offering it.
func TestSoleOwner(t *testing.T) {
	e := newEnv(t)
	owner := e.signUp("ann@example.com", "Acme")
	org := e.org("ann@example.com")
	members := "/console/orgs/" + org + "/members"
	annID := mustUser(t, e, "ann@example.com")
	e.join(owner, org, "vera@example.com", "viewer", nil)
	check(t, "members", owner.get(members), http.StatusOK, []string{"the only one: make another member an owner"},
		[]string{`action="` + members + `/` + annID + `/remove"`, `action="` + members + `/` + annID + `/role"`})
	for _, tc := range []struct {
		path string
		form url.Values
	}{{"/role", url.Values{"role": {"viewer"}}}, {"/role", url.Values{"role": {"admin"}}}, {"/remove", nil}} {
		owner.get(members)
		check(t, "sole owner "+tc.path, owner.post(members+"/"+annID+tc.path, tc.form), http.StatusPreconditionFailed,
			[]string{"ann@example.com is the only owner of Acme", "nothing was changed", `role="alert"`}, neverShown)
	}
	if m, err := e.db.Membership(context.Background(), org, annID); err != nil || m.Role != likeness.OrgOwner {
		t.Fatalf("the sole owner changed: %+v %v", m, err)
	}
	// With a second owner, either may go.
	veraID := mustUser(t, e, "vera@example.com")
	owner.get(members)
	if r := owner.post(members+"/"+veraID+"/role", url.Values{"role": {"owner"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("promote: %d", r.Code)
	}
	check(t, "two owners", owner.get(members), http.StatusOK, []string{`action="` + members + `/` + annID + `/remove"`},
		[]string{"the only one"})
}
