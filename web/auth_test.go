package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
)

var _ Store = (*sqlite.DB)(nil)

func TestSignUpSignInSignOut(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	check(t, "sign-up page", b.get("/console/signup"), http.StatusOK,
		[]string{`name="csrf"`, "Create account", `autocomplete="new-password"`}, neverShown)
	pre := b.cookies[preCookie]
	if pre == nil || !pre.HttpOnly || !pre.Secure || pre.SameSite != http.SameSiteStrictMode || pre.Path != "/" {
		t.Fatalf("pre-session cookie flags: %+v", pre)
	}

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"short password", url.Values{"email": {"ann@example.com"}, "org": {"Acme"}, "password": {"short"}, "confirm": {"short"}},
			http.StatusBadRequest, "at least 12 characters"},
		{"passwords differ", url.Values{"email": {"ann@example.com"}, "org": {"Acme"}, "password": {goodPass}, "confirm": {goodPass + "x"}},
			http.StatusBadRequest, "The two passwords differ."},
		{"no organization", url.Values{"email": {"ann@example.com"}, "password": {goodPass}, "confirm": {goodPass}},
			http.StatusBadRequest, "Name your organization."},
		{"bad email", url.Values{"email": {"ann"}, "org": {"Acme"}, "password": {goodPass}, "confirm": {goodPass}},
			http.StatusBadRequest, "Enter a valid email address."},
	} {
		check(t, tc.name, b.post("/console/signup", tc.form), tc.status, []string{tc.want}, neverShown)
	}

	r := b.post("/console/signup", url.Values{"email": {"Ann@Example.com"}, "org": {"Acme"}, "password": {goodPass}, "confirm": {goodPass}})
	if r.Code != http.StatusSeeOther || r.location() != "/console/apps" {
		t.Fatalf("sign up: %d %s\n%s", r.Code, r.location(), excerpt(r.body))
	}
	ck := b.cookies[consoleCookie]
	if ck == nil {
		t.Fatal("no session cookie after sign-up")
	}
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Domain != "" ||
		!strings.HasPrefix(ck.Name, "__Host-") || ck.MaxAge <= 0 || ck.MaxAge > int(ConsoleSessionTTL.Seconds()) {
		t.Errorf("session cookie flags: %+v", ck)
	}
	check(t, "apps after sign-up", b.get("/console/apps"), http.StatusOK,
		[]string{"Acme", "ann@example.com", "Create an application", "Sign out"}, neverShown)

	// The first account exists: sign-up is closed (default mode "first").
	other := e.browser()
	check(t, "sign-up closed", other.get("/console/signup"), http.StatusForbidden, []string{"created by an organization owner"}, nil)
	check(t, "sign-up post closed", other.post("/console/signup", url.Values{"email": {"bob@example.com"}, "org": {"B"},
		"password": {goodPass}, "confirm": {goodPass}}), http.StatusForbidden, nil, nil)
	if n, _ := e.db.CountUsers(context.Background()); n != 1 {
		t.Errorf("%d accounts, want 1", n)
	}

	// Sign out: the cookie goes, and the old cookie no longer works.
	stolen := *b.cookies[consoleCookie]
	r = b.post("/console/signout", nil)
	if r.Code != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/signin") {
		t.Fatalf("sign out: %d %s", r.Code, r.location())
	}
	if b.cookies[consoleCookie] != nil {
		t.Error("the session cookie is still set after sign-out")
	}
	b.cookies[consoleCookie] = &stolen
	r = b.get("/console/apps")
	if r.Code != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/console/signin") {
		t.Errorf("a signed-out session still works: %d %s", r.Code, r.location())
	}

	// Sign in again, case-insensitive email, back to where we were sent from.
	b = e.browser()
	r = b.get("/console/apps?x=1")
	if r.Code != http.StatusSeeOther || r.location() != "/console/signin?next=%2Fconsole%2Fapps%3Fx%3D1" {
		t.Fatalf("not signed in: %d %s", r.Code, r.location())
	}
	b.get(r.location())
	check(t, "wrong password", b.post("/console/signin", url.Values{"email": {"ann@example.com"}, "password": {"nope nope nope"}}),
		http.StatusUnauthorized, []string{"The email or password is not right."}, nil)
	check(t, "unknown account", b.post("/console/signin", url.Values{"email": {"zed@example.com"}, "password": {goodPass}}),
		http.StatusUnauthorized, []string{"The email or password is not right."}, nil)
	r = b.post("/console/signin", url.Values{"email": {"ANN@example.com"}, "password": {goodPass}, "next": {"/console/apps?x=1"}})
	if r.Code != http.StatusSeeOther || r.location() != "/console/apps?x=1" {
		t.Fatalf("sign in: %d %s\n%s", r.Code, r.location(), excerpt(r.body))
	}
	// An open redirect is not followed.
	b2 := e.browser()
	b2.get("/console/signin")
	r = b2.post("/console/signin", url.Values{"email": {"ann@example.com"}, "password": {goodPass}, "next": {"//evil.example/x"}})
	if r.location() != "/console/apps" {
		t.Errorf("next=//evil.example: redirected to %q", r.location())
	}
}

func TestSignUpModes(t *testing.T) {
	for _, tc := range []struct {
		mode        string
		first, more int
	}{
		{SignUpOpen, http.StatusSeeOther, http.StatusSeeOther},
		{SignUpOff, http.StatusForbidden, http.StatusForbidden},
		{SignUpFirst, http.StatusSeeOther, http.StatusForbidden},
	} {
		e := newEnv(t, func(c *Config) { c.SignUp = tc.mode })
		for i, want := range []int{tc.first, tc.more} {
			b := e.browser()
			b.get("/console/signup")
			r := b.post("/console/signup", url.Values{"email": {string(rune('a'+i)) + "@example.com"}, "org": {"O"},
				"password": {goodPass}, "confirm": {goodPass}})
			if r.Code != want {
				t.Errorf("mode %s, sign-up %d: %d, want %d", tc.mode, i+1, r.Code, want)
			}
		}
	}
	if _, err := New(Config{Store: newEnv(t).db, Notices: newEnv(t).h.cfg.Notices, PublicURL: testOrigin, SignUp: "maybe"}); err == nil {
		t.Error("an unknown sign-up mode is accepted")
	}
}

func TestCSRFAndOrigin(t *testing.T) {
	e := newEnv(t)
	b := e.signUp("ann@example.com", "Acme")
	token := b.csrf()
	other := e.signUp2("bob@example.com")
	form := func(csrf string) url.Values {
		return url.Values{"csrf": {csrf}, "org": {e.org("ann@example.com")}, "name": {"Shop"}, "origins": {"https://shop.example"}}
	}
	for _, tc := range []struct {
		name string
		form url.Values
		hdr  map[string]string
	}{
		{"no token", form(""), nil},
		{"wrong token", form("AAAA" + token[4:]), nil},
		{"another session's token", form(other.csrf()), nil},
		{"cross-site", form(token), map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"same-site", form(token), map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"foreign Origin", form(token), map[string]string{"Origin": "https://evil.example"}},
		{"null Origin from another site", form(token), map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site"}},
		{"null Origin, no token", form(""), map[string]string{"Origin": "null"}},
	} {
		if tc.form.Get("csrf") == "" {
			tc.form.Del("csrf")
		}
		r := b.request(http.MethodPost, "/console/apps", tc.form, tc.hdr)
		check(t, tc.name, r, http.StatusForbidden, []string{"This form has expired or was not sent from this site."}, nil)
	}
	apps, _ := e.db.OrgApps(context.Background(), e.org("ann@example.com"))
	if len(apps) != 0 {
		t.Fatalf("a refused form created %d applications", len(apps))
	}
	// Without Origin and Sec-Fetch-Site (an old browser), the token suffices.
	r := b.request(http.MethodPost, "/console/apps", form(token), map[string]string{"Origin": "", "Sec-Fetch-Site": ""})
	if r.Code != http.StatusSeeOther || !strings.Contains(r.location(), "done=created") {
		t.Errorf("token only: %d %q", r.Code, r.location())
	}

	// Sign-in without the pre-session cookie's token.
	anon := e.browser()
	r = anon.request(http.MethodPost, "/console/signin", url.Values{"email": {"ann@example.com"}, "password": {goodPass}}, nil)
	check(t, "sign-in without token", r, http.StatusForbidden, nil, nil)
	if anon.cookies[consoleCookie] != nil {
		t.Error("a sign-in without form token made a session")
	}
}

// signUp2 makes a second account in an open-sign-up environment, or through
// the store when sign-up is closed.
func (e *env) signUp2(email string) *browser {
	e.t.Helper()
	hash, err := HashPassword(goodPass, PasswordParams{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, _, err := e.db.CreateAccount(context.Background(), likeness.AccountCreate{Email: email, PasswordHash: hash,
		OrgName: "Org of " + email}); err != nil {
		e.t.Fatal(err)
	}
	return e.signIn(email, goodPass)
}

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	e.signUp("ann@example.com", "Acme")
	good := func() url.Values { return url.Values{"email": {"ann@example.com"}, "password": {goodPass}} }
	wrong := func(i int) url.Values {
		return url.Values{"email": {"ann@example.com"}, "password": {"wrong password " + string(rune('a'+i))}}
	}
	b := e.browser()
	b.get("/console/signin")
	for i := range 3 { // three free tries
		if r := b.post("/console/signin", wrong(i)); r.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, r.Code)
		}
	}
	// A pause, not a lock: 1 s after the third failure.
	r := b.post("/console/signin", good())
	check(t, "paused", r, http.StatusTooManyRequests, []string{"Too many failed sign-ins", "1 second"}, nil)
	if r.Header().Get("Retry-After") != "1" || b.cookies[consoleCookie] != nil {
		t.Fatalf("Retry-After %q, signed in %v", r.Header().Get("Retry-After"), b.cookies[consoleCookie] != nil)
	}
	// Meanwhile the person, from another address, signs in at once.
	o := e.browser()
	o.ip = "198.51.100.7"
	o.get("/console/signin")
	if r := o.post("/console/signin", good()); r.Code != http.StatusSeeOther {
		t.Fatalf("another address is paused too: %d", r.Code)
	}
	// Pauses grow: 1, 2, 4, 8 s … after each further failure.
	for i, pause := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		e.clock.Advance(pause)
		if r := b.post("/console/signin", wrong(3+i)); r.Code != http.StatusUnauthorized {
			t.Fatalf("after %v: %d", pause, r.Code)
		}
		if r := b.post("/console/signin", good()); r.Code != http.StatusTooManyRequests {
			t.Fatalf("no pause after failure %d: %d", 4+i, r.Code)
		}
	}
	e.clock.Advance(15 * time.Second) // 16 s after the seventh failure
	if r := b.post("/console/signin", good()); r.Code != http.StatusTooManyRequests {
		t.Fatalf("the pause did not grow: %d", r.Code)
	}
	e.clock.Advance(time.Second)
	if r := b.post("/console/signin", good()); r.Code != http.StatusSeeOther {
		t.Fatalf("after the pause, the right password: %d\n%s", r.Code, excerpt(r.body))
	}

	// One address over many accounts: a looser limit, and only a short pause
	// for the people behind it, never a lock.
	c := e.browser()
	c.ip = "203.0.113.9"
	c.get("/console/signin")
	for i := range 30 {
		c.post("/console/signin", url.Values{"email": {fmt.Sprintf("user%d@example.com", i)}, "password": {"x"}})
	}
	r = c.post("/console/signin", good())
	check(t, "address paused", r, http.StatusTooManyRequests, []string{"Too many failed sign-ins"}, nil)
	e.clock.Advance(10 * time.Second) // the longest pause of an address
	if r := c.post("/console/signin", good()); r.Code != http.StatusSeeOther {
		t.Errorf("an address stays paused past 10 s: %d", r.Code)
	}
	d := e.browser()
	d.ip = "203.0.113.10"
	d.get("/console/signin")
	if r := d.post("/console/signin", good()); r.Code != http.StatusSeeOther {
		t.Errorf("another address is paused too: %d", r.Code)
	}
}

func TestCommonPasswordsRefused(t *testing.T) {
	for pw, common := range map[string]bool{
		"password1234":                   true,
		"Password1234!":                  true,
		"passwordpassword":               true,
		"123456789012":                   true,
		"qwertyuiop123":                  true,
		"1q2w3e4r5t6y":                   true,
		"P@ssw0rd2024!!":                 true,
		"iloveyou1234":                   true,
		"Welcome12345":                   true,
		"correct horse battery staple":   false,
		"a long enough console password": false,
		"passage of seven tigers":        false,
		"m4Kq-29xv-Lp0t":                 false,
	} {
		err := CheckNewPassword(pw)
		if (err != nil) != common || (err != nil && !strings.Contains(likeness.ErrorMessage(err), "most common")) {
			t.Errorf("CheckNewPassword(%q) = %v, common %v", pw, err, common)
		}
	}
	// At sign-up and at a password change.
	e := newEnv(t)
	b := e.browser()
	b.get("/console/signup")
	r := b.post("/console/signup", url.Values{"email": {"bo@example.com"}, "org": {"Bo"}, "password": {"qwerty123456"}, "confirm": {"qwerty123456"}})
	check(t, "sign-up", r, http.StatusBadRequest, []string{"most common"}, []string{"qwerty123456"})
	a := e.signUp("ann@example.com", "Acme")
	a.get("/console/account")
	r = a.post("/console/account/password", url.Values{"current": {goodPass}, "password": {"Baseball2024!"}, "confirm": {"Baseball2024!"}})
	check(t, "change", r, http.StatusBadRequest, []string{"most common"}, nil)
}

func TestSessionLifetime(t *testing.T) {
	e := newEnv(t)
	b := e.signUp("ann@example.com", "Acme")
	first := b.cookies[consoleCookie].Value

	// Used before half its life: the same cookie.
	e.clock.Advance(10 * time.Minute)
	b.get("/console/apps")
	if b.cookies[consoleCookie].Value != first {
		t.Error("the cookie was replaced before half its lifetime")
	}
	// Used past half its life: rotated, still valid.
	e.clock.Advance(6 * time.Minute)
	if r := b.get("/console/apps"); r.Code != http.StatusOK {
		t.Fatalf("at 16 min: %d", r.Code)
	}
	if b.cookies[consoleCookie].Value == first {
		t.Error("the cookie was not rotated past half its lifetime")
	}
	// Not used for longer than its lifetime: expired.
	e.clock.Advance(ConsoleSessionTTL + time.Second)
	if r := b.get("/console/apps"); r.Code != http.StatusSeeOther {
		t.Errorf("an expired session works: %d", r.Code)
	}

	// Kept active, a session still ends ConsoleSessionMax after sign-in.
	c := e.signIn("ann@example.com", goodPass)
	for elapsed := time.Duration(0); elapsed < ConsoleSessionMax-20*time.Minute; elapsed += 20 * time.Minute {
		e.clock.Advance(20 * time.Minute)
		if r := c.get("/console/apps"); r.Code != http.StatusOK {
			t.Fatalf("active session refused after %v: %d", elapsed, r.Code)
		}
	}
	e.clock.Advance(25 * time.Minute)
	if r := c.get("/console/apps"); r.Code != http.StatusSeeOther {
		t.Errorf("a session older than %v works: %d", ConsoleSessionMax, r.Code)
	}
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	e := newEnv(t)
	a := e.signUp("ann@example.com", "Acme")
	other := e.signIn("ann@example.com", goodPass)
	a.get("/console/account")
	check(t, "wrong current", a.post("/console/account/password", url.Values{"current": {"nope"}, "password": {"a new password 123"},
		"confirm": {"a new password 123"}}), http.StatusBadRequest, []string{"The current password is not right."}, neverShown)
	r := a.post("/console/account/password", url.Values{"current": {goodPass}, "password": {"a new password 123"},
		"confirm": {"a new password 123"}})
	if r.Code != http.StatusSeeOther {
		t.Fatalf("password change: %d\n%s", r.Code, excerpt(r.body))
	}
	if r := a.get("/console/apps"); r.Code != http.StatusOK {
		t.Errorf("this session ended with the password change: %d", r.Code)
	}
	if r := other.get("/console/apps"); r.Code != http.StatusSeeOther {
		t.Errorf("another session survived the password change: %d", r.Code)
	}
	e.signIn("ann@example.com", "a new password 123")
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("pässwörd long enough", PasswordParams{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("PHC string: %s", h)
	}
	for pw, want := range map[string]bool{"pässwörd long enough": true, "password long enough": false, "": false} {
		if ok, err := CheckPassword(h, pw); err != nil || ok != want {
			t.Errorf("CheckPassword(%q) = %v, %v", pw, ok, err)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if _, err := CheckPassword(bad, "x"); err == nil {
			t.Errorf("CheckPassword accepts %q", bad)
		}
	}
	h2, _ := HashPassword("pässwörd long enough", PasswordParams{})
	if h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
}
