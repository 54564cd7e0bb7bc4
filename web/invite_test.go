package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var inviteLink = regexp.MustCompile(`data-testid="invite-link">([^<]+)<`)

// invite makes an invitation as inviter and returns the reply and the
// link's path and query.
func (e *env) invite(inviter *browser, org, email, role string) (reply, string) {
	e.t.Helper()
	members := "/console/orgs/" + org + "/members"
	inviter.get(members)
	r := inviter.post(members, url.Values{"email": {email}, "role": {role}})
	m := inviteLink.FindStringSubmatch(r.body)
	if r.Code != http.StatusCreated || m == nil {
		e.t.Fatalf("invite %s: %d\n%s", email, r.Code, excerpt(r.body))
	}
	u, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil || !strings.HasPrefix(u.String(), testOrigin+"/console/invitation?t=") {
		e.t.Fatalf("invitation link %q", m[1])
	}
	return r, u.RequestURI()
}

// join invites email into org and accepts: signed in as it (b), or, when b
// is nil, by making the account from the link. It returns the member's
// browser.
func (e *env) join(inviter *browser, org, email, role string, b *browser) *browser {
	e.t.Helper()
	_, link := e.invite(inviter, org, email, role)
	if b == nil {
		b = e.browser()
		check(e.t, "invitation page", b.get(link), http.StatusOK, []string{"to join", "Create the account and join"}, nil)
		r := b.post("/console/invitation/account", url.Values{"t": {tokenOf(link)}, "password": {goodPass}, "confirm": {goodPass}})
		if r.Code != http.StatusSeeOther || b.cookies[consoleCookie] == nil {
			e.t.Fatalf("new account from an invitation: %d\n%s", r.Code, excerpt(r.body))
		}
		return b
	}
	check(e.t, "invitation page", b.get(link), http.StatusOK, []string{"Accept and join"}, nil)
	if r := b.post("/console/invitation/accept", url.Values{"t": {tokenOf(link)}}); r.Code != http.StatusSeeOther {
		e.t.Fatalf("accept: %d\n%s", r.Code, excerpt(r.body))
	}
	return b
}

func tokenOf(link string) string {
	u, _ := url.Parse(link)
	return u.Query().Get("t")
}

// TestInvitations: inviting an address gives the same reply whether or not
// it has an account, adds nobody until they accept, is rate-limited, and
// only the invited address can accept.
func TestInvitations(t *testing.T) {
	e := newEnv(t)
	owner := e.signUp("ann@example.com", "Acme")
	org := e.org("ann@example.com")
	members := "/console/orgs/" + org + "/members"
	bob := e.signUp2("bob@example.com")

	// An address with an account and one without: the same reply.
	known, knownLink := e.invite(owner, org, "bob@example.com", "viewer")
	unknown, _ := e.invite(owner, org, "nobody@example.com", "viewer")
	norm := func(r reply, email, link string) string {
		b := strings.ReplaceAll(r.body, email, "EMAIL")
		b = regexp.MustCompile(`t=[A-Za-z0-9_%-]+`).ReplaceAllString(b, "t=TOKEN")
		b = regexp.MustCompile(`name="csrf" value="[^"]+"`).ReplaceAllString(b, "")
		b = regexp.MustCompile(`<tbody>.*?</tbody>`).ReplaceAllString(strings.ReplaceAll(b, "\n", " "), "")
		return b
	}
	if known.Code != unknown.Code || norm(known, "bob@example.com", knownLink) != norm(unknown, "nobody@example.com", "") {
		t.Errorf("the reply tells whether an address has an account:\n%s\n---\n%s", excerpt(known.body), excerpt(unknown.body))
	}
	for _, r := range []reply{known, unknown} {
		check(t, "invitation reply", r, http.StatusCreated, []string{"shown only once", "Nobody is added before they accept"},
			[]string{"No account has this email", "already a member", "has an account"})
	}
	// Nobody was added; both are pending.
	if ms, _ := e.db.Members(context.Background(), org); len(ms) != 1 {
		t.Fatalf("%d members before anyone accepted", len(ms))
	}
	check(t, "pending", owner.get(members), http.StatusOK, []string{"bob@example.com", "nobody@example.com", "Withdraw"}, []string{tokenOf(knownLink)})

	// Someone else signed in cannot accept bob's invitation.
	mallory := e.signUp2("mallory@example.com")
	check(t, "other account's page", mallory.get(knownLink), http.StatusOK, []string{"This invitation is for bob@example.com"}, []string{"Accept and join"})
	mallory.get("/console/apps")
	check(t, "other account accepts", mallory.post("/console/invitation/accept", url.Values{"t": {tokenOf(knownLink)}}),
		http.StatusForbidden, []string{"another email address"}, nil)
	// Making an account for an address that has one: refused, to the link's holder only.
	anon := e.browser()
	anon.get(knownLink)
	check(t, "account for a taken address", anon.post("/console/invitation/account", url.Values{"t": {tokenOf(knownLink)},
		"password": {goodPass + "!"}, "confirm": {goodPass + "!"}}), http.StatusConflict, []string{"sign in to accept"}, nil)
	check(t, "bad token", anon.get("/console/invitation?t=nope"), http.StatusNotFound, nil, nil)

	// Bob accepts, once.
	bob.get(knownLink)
	if r := bob.post("/console/invitation/accept", url.Values{"t": {tokenOf(knownLink)}}); r.Code != http.StatusSeeOther {
		t.Fatalf("bob accepts: %d %s", r.Code, excerpt(r.body))
	}
	if _, err := e.db.Membership(context.Background(), org, mustUser(t, e, "bob@example.com")); err != nil {
		t.Fatal("bob is not a member after accepting")
	}
	check(t, "used link", bob.get(knownLink), http.StatusNotFound, nil, nil)

	// Withdrawn invitations stop working.
	_, link := e.invite(owner, org, "cy@example.com", "viewer")
	list, _ := e.db.Invitations(context.Background(), org)
	owner.get(members)
	for _, inv := range list {
		if inv.Email == "cy@example.com" {
			if r := owner.post(members[:len(members)-len("/members")]+"/invitations/"+inv.ID+"/revoke", nil); r.Code != http.StatusSeeOther {
				t.Fatalf("withdraw: %d", r.Code)
			}
		}
	}
	check(t, "withdrawn link", e.browser().get(link), http.StatusNotFound, nil, nil)

	// Rate limit: 20 invitations an hour per account.
	for i := len(list) + 1; i < invitesPerHour; i++ {
		e.invite(owner, org, "p"+string(rune('a'+i))+"@example.com", "viewer")
	}
	owner.get(members)
	check(t, "over the limit", owner.post(members, url.Values{"email": {"late@example.com"}, "role": {"viewer"}}),
		http.StatusTooManyRequests, []string{"invitations in the last hour"}, nil)
	e.clock.Advance(time.Hour + time.Second)
	e.invite(e.signIn("ann@example.com", goodPass), org, "late@example.com", "viewer")
}
