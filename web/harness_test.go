package web

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/consent"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/store/sqlite"
)

const (
	testHost   = "likeness.test"
	testOrigin = "https://likeness.test"
	goodPass   = "correct horse battery staple"
)

// testClock is a settable clock shared by the store and the handler.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a Handler over a fresh SQLite store, mounted on an Echo router.
type env struct {
	t     *testing.T
	db    *sqlite.DB
	dir   string
	h     *Handler
	e     *echo.Echo
	clock *testClock
}

func newEnv(t *testing.T, edit ...func(*Config)) *env {
	t.Helper()
	clock := &testClock{t: time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)}
	key, err := crypt.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "likeness.db"), sqlite.Options{Now: clock.Now, MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := Config{
		Store: db, Notices: consent.New(db, clock.Now, consent.WithPublicURL(testOrigin)), PublicURL: testOrigin + "/", Now: clock.Now,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Password: PasswordParams{Memory: 64, Time: 1, Threads: 1}, // fast for tests
	}
	for _, f := range edit {
		f(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	h.Mount(e)
	return &env{t: t, db: db, dir: dir, h: h, e: e, clock: clock}
}

// browser keeps cookies like a browser on https://likeness.test (so it
// sends Secure cookies) and sends the headers a browser sends on a
// same-origin form post.
type browser struct {
	env     *env
	cookies map[string]*http.Cookie
	ip      string
	last    string // body of the last page, for its form token
}

func (e *env) browser() *browser {
	return &browser{env: e, cookies: map[string]*http.Cookie{}, ip: "192.0.2.10"}
}

type reply struct {
	*httptest.ResponseRecorder
	body string
}

func (r reply) location() string { return r.Header().Get("Location") }

// request sends one request; hdr overrides the browser's default headers
// (a value of "" removes one).
func (b *browser) request(method, path string, form url.Values, hdr map[string]string) reply {
	b.env.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, testOrigin+path, body)
	req.RemoteAddr = b.ip + ":51234"
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		req.Header.Set("Origin", testOrigin)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	rec := httptest.NewRecorder()
	b.env.e.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	r := reply{ResponseRecorder: rec, body: rec.Body.String()}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		b.last = r.body
	}
	return r
}

func (b *browser) get(path string) reply {
	b.env.t.Helper()
	return b.request(http.MethodGet, path, nil, nil)
}

// post sends a form with the form token of the last page shown.
func (b *browser) post(path string, form url.Values) reply {
	b.env.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf())
	}
	return b.request(http.MethodPost, path, form, nil)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) csrf() string {
	m := csrfField.FindStringSubmatch(b.last)
	if m == nil {
		return ""
	}
	return m[1]
}

// signUp makes an account with its organization and returns a browser
// signed in as it.
func (e *env) signUp(email, org string) *browser {
	e.t.Helper()
	b := e.browser()
	b.get("/console/signup")
	r := b.post("/console/signup", url.Values{"email": {email}, "org": {org}, "password": {goodPass}, "confirm": {goodPass}})
	if r.Code != http.StatusSeeOther || r.location() != "/console/apps" {
		e.t.Fatalf("sign up %s: %d %s\n%s", email, r.Code, r.location(), r.body)
	}
	b.get("/console/apps")
	return b
}

// signIn returns a browser signed in with email and password.
func (e *env) signIn(email, password string) *browser {
	e.t.Helper()
	b := e.browser()
	b.get("/console/signin")
	r := b.post("/console/signin", url.Values{"email": {email}, "password": {password}})
	if r.Code != http.StatusSeeOther {
		e.t.Fatalf("sign in %s: %d\n%s", email, r.Code, r.body)
	}
	b.get(r.location())
	return b
}

// org returns the ID of the account's only organization.
func (e *env) org(email string) string {
	e.t.Helper()
	u, err := e.db.UserByEmail(context.Background(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	ms, err := e.db.Memberships(context.Background(), u.ID)
	if err != nil || len(ms) == 0 {
		e.t.Fatalf("memberships of %s: %v", email, err)
	}
	return ms[0].Org.ID
}

// app creates an application in the organization through the store.
func (e *env) app(orgID, name string) (*likeness.Application, *likeness.AppSecrets) {
	e.t.Helper()
	app, sec, err := e.db.CreateApp(context.Background(), likeness.AppCreate{OrgID: orgID, Name: name,
		Origins: []string{"https://shop.example"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return app, sec
}

// enroll stores a face with a widget consent record, as the widget would.
func (e *env) enroll(app *likeness.Application, externalID, payload string) *likeness.Face {
	e.t.Helper()
	ctx := context.Background()
	svc := consent.New(e.db, e.clock.Now)
	n, err := svc.CurrentNotice(ctx, app, "en")
	if err != nil {
		e.t.Fatal(err)
	}
	rec, err := svc.RecordConsent(ctx, likeness.ConsentRecord{AppID: app.ID, Kind: likeness.ConsentWidget,
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Locale: "en", SessionID: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	tmpl := make([]float32, 128)
	for i := range tmpl {
		tmpl[i] = rand.Float32() - 0.5
	}
	var p []byte
	if payload != "" {
		p = []byte(payload)
	}
	f, err := e.db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: rec.ID, Template: tmpl, Payload: p,
		ExternalID: externalID})
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// check asserts a reply's status and what its body must and must not hold.
func check(t *testing.T, name string, r reply, status int, want, notWant []string) {
	t.Helper()
	if r.Code != status {
		t.Errorf("%s: status %d, want %d (Location %q)\n%s", name, r.Code, status, r.location(), excerpt(r.body))
	}
	for _, w := range want {
		if !strings.Contains(r.body, w) {
			t.Errorf("%s: the reply lacks %q\n%s", name, w, excerpt(r.body))
		}
	}
	for _, w := range notWant {
		if w != "" && strings.Contains(r.body, w) {
			t.Errorf("%s: the reply must not contain %q", name, w)
		}
	}
}

func excerpt(s string) string {
	if i := strings.Index(s, `<main`); i >= 0 {
		s = s[i:]
	}
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

// neverShown is what no page may ever contain: template source, password
// and PIN hashes, internal errors.
var neverShown = []string{"$argon2id$", "templ.", "{ v.", "@Layout", "sqlite:", "panic", "goroutine"}
