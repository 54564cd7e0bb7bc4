package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/store/pgtest"
	"github.com/likeness/likeness/store/sqlite"
	"github.com/likeness/likeness/store/vecindex"
)

var ctx = context.Background()

// TestMain runs every test on SQLite, then on PostgreSQL (store/pgtest).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// sqliteOnly skips a test of what only the SQLite file store has (its
// file, its directory lock, its full-disk reserve).
func sqliteOnly(t *testing.T) {
	t.Helper()
	if pgtest.Enabled() {
		t.Skip("SQLite file store only")
	}
}

// clock is a settable clock for Options.Now.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.t.Add(int64(d)) }

// fixture is a database file with its master key, re-openable.
type fixture struct {
	path  string
	key   []byte
	clock *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	key, err := crypt.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{path: sqlite.TestTarget(t), key: key, clock: newClock()}
}

func (f *fixture) open(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(ctx, f.path, sqlite.Options{Now: f.clock.Now, MasterKey: f.key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// fileBytes returns the database file and its WAL, as an attacker with a
// copy of the data directory would see them; on PostgreSQL, every value of
// every table, as someone with a dump of the database would.
func (f *fixture) fileBytes(t *testing.T) []byte {
	t.Helper()
	if pgtest.Enabled() {
		return f.dump(t)
	}
	var all []byte
	for _, p := range []string{f.path, f.path + "-wal", f.path + "-journal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// dump returns every value of every table of a PostgreSQL database.
func (f *fixture) dump(t *testing.T) []byte {
	t.Helper()
	raw := f.raw(t)
	var tables []string
	rows, err := raw.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var all []byte
	for _, tb := range tables {
		rows, err := raw.Query(`SELECT * FROM ` + tb)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					all = append(all, b...)
				} else {
					all = fmt.Append(all, v)
				}
				all = append(all, 0)
			}
		}
		rows.Close()
	}
	return all
}

// raw opens the database directly, bypassing the store.
func (f *fixture) raw(t *testing.T) *sql.DB {
	t.Helper()
	return sqlite.OpenRawForTest(t, f.path)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := likeness.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func mustApp(t *testing.T, db *sqlite.DB, name string) (*likeness.Application, *likeness.AppSecrets) {
	t.Helper()
	app, sec, err := db.CreateApp(ctx, likeness.AppCreate{Name: name, Origins: []string{"https://example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	return app, sec
}

func mustConsent(t *testing.T, db *sqlite.DB, appID string) string {
	t.Helper()
	rec := &likeness.ConsentRecord{
		ID: uuid.NewString(), AppID: appID, Kind: likeness.ConsentAPI,
		SessionID: "req-1", CreatedAt: time.Now(),
	}
	if err := db.CreateConsentRecord(ctx, rec); err != nil {
		t.Fatal(err)
	}
	return rec.ID
}

func randTemplate(r *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	n, _ := vecindex.Normalize(v)
	return n
}

func mustEnroll(t *testing.T, db *sqlite.DB, appID string, tmpl []float32) *likeness.Face {
	t.Helper()
	face, err := db.Enroll(ctx, likeness.Enrollment{AppID: appID, ConsentID: mustConsent(t, db, appID), Template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	return face
}

func templateBytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func TestCreateAppValidation(t *testing.T) {
	db := sqlite.OpenTest(t)
	tests := []struct {
		name    string
		in      likeness.AppCreate
		code    string
		origins []string
	}{
		{"plain", likeness.AppCreate{Name: "Shop", Origins: []string{"https://shop.example"}}, "", []string{"https://shop.example"}},
		{"normalised", likeness.AppCreate{Name: "  Shop  ", Origins: []string{
			"HTTPS://Shop.Example:443/", "http://LOCALHOST:80", "http://localhost:3000", "https://shop.example",
			"http://[::1]:8080", "http://127.0.0.1:08080",
		}}, "", []string{"https://shop.example", "http://localhost", "http://localhost:3000", "http://[::1]:8080", "http://127.0.0.1:8080"}},
		{"no origins (API only)", likeness.AppCreate{Name: "API"}, "", []string{}},
		{"unicode name of 100", likeness.AppCreate{Name: strings.Repeat("é", 100)}, "", []string{}},
		{"empty name", likeness.AppCreate{Name: "   "}, likeness.EINVALID, nil},
		{"name of 101", likeness.AppCreate{Name: strings.Repeat("a", 101)}, likeness.EINVALID, nil},
		{"control in name", likeness.AppCreate{Name: "a\x00b"}, likeness.EINVALID, nil},
		{"origin with path", likeness.AppCreate{Name: "x", Origins: []string{"https://a.example/login"}}, likeness.EINVALID, nil},
		{"origin with query", likeness.AppCreate{Name: "x", Origins: []string{"https://a.example?x=1"}}, likeness.EINVALID, nil},
		{"origin with fragment", likeness.AppCreate{Name: "x", Origins: []string{"https://a.example#x"}}, likeness.EINVALID, nil},
		{"origin with user", likeness.AppCreate{Name: "x", Origins: []string{"https://u:p@a.example"}}, likeness.EINVALID, nil},
		{"origin ftp", likeness.AppCreate{Name: "x", Origins: []string{"ftp://a.example"}}, likeness.EINVALID, nil},
		{"origin relative", likeness.AppCreate{Name: "x", Origins: []string{"a.example"}}, likeness.EINVALID, nil},
		{"origin host:port only", likeness.AppCreate{Name: "x", Origins: []string{"localhost:3000"}}, likeness.EINVALID, nil},
		{"origin wildcard", likeness.AppCreate{Name: "x", Origins: []string{"https://*.a.example"}}, likeness.EINVALID, nil},
		{"origin bad port", likeness.AppCreate{Name: "x", Origins: []string{"https://a.example:99999"}}, likeness.EINVALID, nil},
		{"origin empty", likeness.AppCreate{Name: "x", Origins: []string{""}}, likeness.EINVALID, nil},
		{"origin null", likeness.AppCreate{Name: "x", Origins: []string{"null"}}, likeness.EINVALID, nil},
		{"webhook ftp", likeness.AppCreate{Name: "x", WebhookURL: "ftp://hooks.example/x"}, likeness.EINVALID, nil},
		{"webhook relative", likeness.AppCreate{Name: "x", WebhookURL: "/hooks"}, likeness.EINVALID, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, sec, err := db.CreateApp(ctx, tt.in)
			wantCode(t, err, tt.code)
			if tt.code != "" {
				if app != nil || sec != nil {
					t.Fatal("returned an application with an error")
				}
				return
			}
			if fmt.Sprint(app.Origins) != fmt.Sprint(tt.origins) {
				t.Fatalf("origins %q, want %q", app.Origins, tt.origins)
			}
			if app.Name != strings.TrimSpace(tt.in.Name) {
				t.Fatalf("name %q", app.Name)
			}
			got, err := db.AppByPublicID(ctx, app.PublicID)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(*got) != fmt.Sprint(*app) {
				t.Fatalf("stored %+v, returned %+v", got, app)
			}
		})
	}
}

func TestCreateAppSecrets(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	app, sec, err := db.CreateApp(ctx, likeness.AppCreate{
		Name: "Shop", Origins: []string{"https://shop.example"}, WebhookURL: "https://shop.example/hooks/likeness",
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"public ID format", regexp.MustCompile(`^app_[0-9A-Za-z]{20}$`).MatchString(app.PublicID)},
		{"API key format", regexp.MustCompile(`^lk_[0-9A-Za-z_-]{43}$`).MatchString(sec.APIKey)},
		{"webhook secret format", regexp.MustCompile(`^whsec_[0-9A-Za-z+/]{32}$`).MatchString(sec.WebhookSecret)},
		{"internal ID differs from public ID", app.ID != app.PublicID && app.ID != ""},
		{"collection ID set", app.CollectionID != ""},
		{"creation time from clock", app.CreatedAt.Equal(f.clock.Now())},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: app %+v secrets %+v", c.what, app, sec)
		}
	}
	// Only the hash of the key and the sealed secret are stored.
	data := f.fileBytes(t)
	for what, secret := range map[string]string{
		"API key": sec.APIKey, "API key body": sec.APIKey[3:], "webhook secret": sec.WebhookSecret,
		"webhook secret body": strings.TrimPrefix(sec.WebhookSecret, "whsec_"),
	} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the %s is in the database file", what)
		}
	}
	// The webhook endpoint gives the secret back, decrypted.
	eps, err := db.WebhookEndpoints(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 1 || eps[0].Secret != sec.WebhookSecret || eps[0].URL != "https://shop.example/hooks/likeness" || !eps[0].Enabled {
		t.Fatalf("endpoints %+v", eps)
	}
	// Without a webhook URL there is no secret.
	_, sec2 := mustApp(t, db, "No hooks")
	if sec2.WebhookSecret != "" || sec2.APIKey == sec.APIKey {
		t.Fatalf("secrets %+v", sec2)
	}
}

func TestApps(t *testing.T) {
	db := sqlite.OpenTest(t)
	a, _ := mustApp(t, db, "A")
	b, _ := mustApp(t, db, "B")
	if a.PublicID == b.PublicID || a.CollectionID == b.CollectionID {
		t.Fatal("IDs repeat")
	}
	got, err := db.AppByID(ctx, b.ID)
	if err != nil || got.PublicID != b.PublicID {
		t.Fatalf("AppByID = %+v, %v", got, err)
	}
	apps, err := db.ListApps(ctx)
	if err != nil || len(apps) != 2 {
		t.Fatalf("ListApps = %d, %v", len(apps), err)
	}
	for _, id := range []string{"", "app_nope", a.ID} {
		_, err := db.AppByPublicID(ctx, id)
		wantCode(t, err, likeness.ENOTFOUND)
	}
	_, err = db.AppByID(ctx, a.PublicID)
	wantCode(t, err, likeness.ENOTFOUND)
}

func TestVerifyAPIKey(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	a, secA := mustApp(t, db, "A")
	b, secB := mustApp(t, db, "B")

	flip := []byte(secA.APIKey)
	flip[len(flip)-1] ^= 1
	tests := []struct {
		name string
		key  string
		app  string // "" = unauthorized
	}{
		{"A's key", secA.APIKey, a.ID},
		{"B's key", secB.APIKey, b.ID},
		{"empty", "", ""},
		{"prefix only", "lk_", ""},
		{"one character changed", string(flip), ""},
		{"same prefix, other body", secA.APIKey[:11] + strings.Repeat("A", 35), ""},
		{"no prefix", secA.APIKey[3:], ""},
		{"too long", secA.APIKey + "x", ""},
		{"the public ID", a.PublicID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, err := db.VerifyAPIKey(ctx, tt.key)
			if tt.app == "" {
				wantCode(t, err, likeness.EUNAUTHORIZED)
				if app != nil || likeness.ErrorMessage(err) != "Invalid API key." {
					t.Fatalf("failure reply differs: %v", err)
				}
				return
			}
			if err != nil || app.ID != tt.app {
				t.Fatalf("VerifyAPIKey = %+v, %v", app, err)
			}
		})
	}

	keys, err := db.ListAPIKeys(ctx, a.ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("ListAPIKeys = %v, %v", keys, err)
	}
	if keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(f.clock.Now()) || keys[0].Prefix != secA.APIKey[:11] {
		t.Fatalf("key %+v", keys[0])
	}
	// Used again within the minute: unchanged; after it: updated.
	f.clock.Advance(30 * time.Second)
	db.VerifyAPIKey(ctx, secA.APIKey)
	keys, _ = db.ListAPIKeys(ctx, a.ID)
	if !keys[0].LastUsedAt.Equal(f.clock.Now().Add(-30 * time.Second)) {
		t.Fatalf("last used %v", keys[0].LastUsedAt)
	}
	f.clock.Advance(time.Minute)
	db.VerifyAPIKey(ctx, secA.APIKey)
	keys, _ = db.ListAPIKeys(ctx, a.ID)
	if !keys[0].LastUsedAt.Equal(f.clock.Now()) {
		t.Fatalf("last used %v, want %v", keys[0].LastUsedAt, f.clock.Now())
	}

	// Rotation: a new key works, a revoked one does not; B cannot revoke A's.
	_, key2, err := db.CreateAPIKey(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.RevokeAPIKey(ctx, b.ID, keys[0].ID), likeness.ENOTFOUND)
	if err := db.RevokeAPIKey(ctx, a.ID, keys[0].ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.RevokeAPIKey(ctx, a.ID, keys[0].ID), likeness.ENOTFOUND)
	_, err = db.VerifyAPIKey(ctx, secA.APIKey)
	wantCode(t, err, likeness.EUNAUTHORIZED)
	if app, err := db.VerifyAPIKey(ctx, key2); err != nil || app.ID != a.ID {
		t.Fatalf("new key: %v, %v", app, err)
	}
	_, _, err = db.CreateAPIKey(ctx, "no-such-app")
	wantCode(t, err, likeness.ENOTFOUND)
	if bytes.Contains(f.fileBytes(t), []byte(key2)) {
		t.Fatal("the new API key is in the database file")
	}
}

func TestEnrollSearchDelete(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	app, _ := mustApp(t, db, "A")
	r := rand.New(rand.NewPCG(1, 2))
	tmpl := randTemplate(r, 512)
	consentID := mustConsent(t, db, app.ID)

	face, err := db.Enroll(ctx, likeness.Enrollment{
		AppID: app.ID, ConsentID: consentID, Template: tmpl,
		Payload: json.RawMessage(`{"user":"alice@example.com"}`), ExternalID: "user-42",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(face.FacialID); err != nil || uuid.MustParse(face.FacialID).Version() != 4 {
		t.Fatalf("Facial ID %q is not a UUID v4", face.FacialID)
	}
	if face.ConsentID != consentID || !face.EnrolledAt.Equal(f.clock.Now()) || face.LastAuthAt != nil {
		t.Fatalf("face %+v", face)
	}
	for range 5 { // some other faces
		mustEnroll(t, db, app.ID, randTemplate(r, 512))
	}

	got, err := db.Face(ctx, app.ID, face.FacialID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Payload) != `{"user":"alice@example.com"}` || got.ExternalID != "user-42" || got.ConsentID != consentID {
		t.Fatalf("Face = %+v", got)
	}

	// A noisy probe of the same face comes first.
	probe := slicesClone(tmpl)
	for i := range probe {
		probe[i] += float32(r.NormFloat64()) * 0.01
	}
	m, err := db.Search(ctx, app.ID, probe, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || m[0].FacialID != face.FacialID || m[0].Similarity < 0.9 || m[1].Similarity > m[0].Similarity {
		t.Fatalf("Search = %+v", m)
	}
	// The similarities a search reports (what decisions compare with
	// thresholds) are exact, not the index's compact approximation: the same
	// as a 1:1 comparison, to float32 rounding.
	ids := []string{m[0].FacialID, m[1].FacialID, m[2].FacialID}
	exact, err := db.Compare(ctx, app.ID, ids, probe)
	if err != nil || len(exact) != 3 {
		t.Fatalf("Compare = %+v, %v", exact, err)
	}
	for i := range m {
		if exact[i].FacialID != m[i].FacialID || math.Abs(float64(exact[i].Similarity-m[i].Similarity)) > 1e-6 {
			t.Fatalf("Search %+v, Compare %+v", m, exact)
		}
	}

	// Nothing personal is in the file in plaintext.
	data := f.fileBytes(t)
	for what, b := range map[string][]byte{
		"template":          templateBytes(tmpl),
		"template (prefix)": templateBytes(tmpl[:8]),
		"payload":           []byte("alice@example.com"),
	} {
		if bytes.Contains(data, b) {
			t.Errorf("the %s is in the database file in plaintext", what)
		}
	}

	f.clock.Advance(time.Hour)
	if err := db.TouchAuth(ctx, app.ID, face.FacialID); err != nil {
		t.Fatal(err)
	}
	got, _ = db.Face(ctx, app.ID, face.FacialID)
	if got.LastAuthAt == nil || !got.LastAuthAt.Equal(f.clock.Now()) {
		t.Fatalf("LastAuthAt = %v", got.LastAuthAt)
	}

	// Keep the sealed template to look for it after erasure.
	var sealed []byte
	if err := f.raw(t).QueryRow(`SELECT template_sealed FROM faces WHERE facial_id = ?`, face.FacialID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}

	if err := db.DeleteFace(ctx, app.ID, face.FacialID, likeness.ReasonAPI); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what string
		err  error
	}{
		{"second delete", db.DeleteFace(ctx, app.ID, face.FacialID, likeness.ReasonAPI)},
		{"touch", db.TouchAuth(ctx, app.ID, face.FacialID)},
	}
	for _, c := range checks {
		if likeness.ErrorCode(c.err) != likeness.ENOTFOUND {
			t.Errorf("%s: %v, want ENOTFOUND", c.what, c.err)
		}
	}
	_, err = db.Face(ctx, app.ID, face.FacialID)
	wantCode(t, err, likeness.ENOTFOUND)
	m, _ = db.Search(ctx, app.ID, tmpl, 100)
	for _, x := range m {
		if x.FacialID == face.FacialID {
			t.Fatal("search still finds the deleted face")
		}
	}
	if len(m) != 5 {
		t.Fatalf("search finds %d faces, want 5", len(m))
	}
	if n, _ := db.CountFaces(ctx, app.ID); n != 5 {
		t.Fatalf("CountFaces = %d", n)
	}
	var rows int
	f.raw(t).QueryRow(`SELECT count(*) FROM faces WHERE facial_id = ?`, face.FacialID).Scan(&rows)
	if rows != 0 {
		t.Fatal("a row remains")
	}
	if _, err := db.ConsentRecord(ctx, app.ID, consentID); err != nil {
		t.Fatalf("consent record (proof) was removed: %v", err)
	}
	data = f.fileBytes(t)
	for what, b := range map[string][]byte{"sealed template": sealed, "external ID": []byte("user-42")} {
		if bytes.Contains(data, b) {
			t.Errorf("the erased face's %s remains in the database files", what)
		}
	}
}

func slicesClone(v []float32) []float32 { return append([]float32(nil), v...) }

func TestEnrollValidation(t *testing.T) {
	db := sqlite.OpenTest(t)
	a, _ := mustApp(t, db, "A")
	b, _ := mustApp(t, db, "B")
	r := rand.New(rand.NewPCG(3, 4))
	consentA := mustConsent(t, db, a.ID)
	consentB := mustConsent(t, db, b.ID)
	good := randTemplate(r, 128)
	tests := []struct {
		name string
		in   likeness.Enrollment
		code string
	}{
		{"no consent ID", likeness.Enrollment{AppID: a.ID, Template: good}, likeness.ECONSENT},
		{"unknown consent", likeness.Enrollment{AppID: a.ID, ConsentID: uuid.NewString(), Template: good}, likeness.ECONSENT},
		{"another app's consent", likeness.Enrollment{AppID: a.ID, ConsentID: consentB, Template: good}, likeness.ECONSENT},
		{"unknown app", likeness.Enrollment{AppID: "nope", ConsentID: consentA, Template: good}, likeness.ENOTFOUND},
		{"empty template", likeness.Enrollment{AppID: a.ID, ConsentID: consentA}, likeness.EINVALID},
		{"zero template", likeness.Enrollment{AppID: a.ID, ConsentID: consentA, Template: make([]float32, 128)}, likeness.EINVALID},
		{"NaN template", likeness.Enrollment{AppID: a.ID, ConsentID: consentA, Template: []float32{1, float32(math.NaN())}}, likeness.EINVALID},
		{"huge template", likeness.Enrollment{AppID: a.ID, ConsentID: consentA, Template: randTemplate(r, 5000)}, likeness.EINVALID},
		{"payload too large", likeness.Enrollment{AppID: a.ID, ConsentID: consentA, Template: good,
			Payload: json.RawMessage(`"` + strings.Repeat("x", likeness.MaxPayloadBytes) + `"`)}, likeness.ETOOLARGE},
		{"payload not JSON", likeness.Enrollment{AppID: a.ID, ConsentID: consentA, Template: good, Payload: json.RawMessage(`{`)}, likeness.EINVALID},
		{"external ID too long", likeness.Enrollment{AppID: a.ID, ConsentID: consentA, Template: good, ExternalID: strings.Repeat("x", 257)}, likeness.EINVALID},
		{"valid", likeness.Enrollment{AppID: a.ID, ConsentID: consentA, Template: good}, ""},
		{"other dimension than the collection", likeness.Enrollment{AppID: a.ID, ConsentID: consentA, Template: randTemplate(r, 64)}, likeness.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			face, err := db.Enroll(ctx, tt.in)
			wantCode(t, err, tt.code)
			if err != nil && face != nil {
				t.Fatal("face returned with an error")
			}
		})
	}
	if n, _ := db.CountFaces(ctx, a.ID); n != 1 {
		t.Fatalf("CountFaces = %d, want 1 (only the valid enrollment)", n)
	}
	if db.Index().Len(a.CollectionID) != 1 {
		t.Fatal("a refused enrollment reached the index")
	}

	searches := []struct {
		name  string
		app   string
		probe []float32
		k     int
		code  string
	}{
		{"k zero", a.ID, good, 0, likeness.EINVALID},
		{"empty probe", a.ID, nil, 1, likeness.EINVALID},
		{"other dimension", a.ID, randTemplate(r, 64), 1, likeness.EINVALID},
		{"unknown app", "nope", good, 1, likeness.ENOTFOUND},
		{"empty collection", b.ID, good, 1, ""},
	}
	for _, tt := range searches {
		t.Run("search "+tt.name, func(t *testing.T) {
			_, err := db.Search(ctx, tt.app, tt.probe, tt.k)
			wantCode(t, err, tt.code)
		})
	}
}

func TestTenantIsolation(t *testing.T) {
	db := sqlite.OpenTest(t)
	a, _ := mustApp(t, db, "A")
	b, _ := mustApp(t, db, "B")
	r := rand.New(rand.NewPCG(5, 6))
	tmpl := randTemplate(r, 128)
	faceA := mustEnroll(t, db, a.ID, tmpl)

	// B searching with A's exact template finds nothing.
	m, err := db.Search(ctx, b.ID, tmpl, 10)
	if err != nil || len(m) != 0 {
		t.Fatalf("B's search = %v, %v", m, err)
	}
	_, err = db.Face(ctx, b.ID, faceA.FacialID)
	wantCode(t, err, likeness.ENOTFOUND)
	wantCode(t, db.TouchAuth(ctx, b.ID, faceA.FacialID), likeness.ENOTFOUND)
	wantCode(t, db.DeleteFace(ctx, b.ID, faceA.FacialID, likeness.ReasonAPI), likeness.ENOTFOUND)
	if n, _ := db.CountFaces(ctx, b.ID); n != 0 {
		t.Fatalf("B counts %d faces", n)
	}
	// A's face is untouched.
	got, err := db.Face(ctx, a.ID, faceA.FacialID)
	if err != nil || got.LastAuthAt != nil {
		t.Fatalf("A's face = %+v, %v", got, err)
	}
	if m, _ := db.Search(ctx, a.ID, tmpl, 1); len(m) != 1 || m[0].FacialID != faceA.FacialID {
		t.Fatalf("A's search = %v", m)
	}
	// B's faces stay in B's collection.
	faceB := mustEnroll(t, db, b.ID, tmpl)
	if m, _ := db.Search(ctx, a.ID, tmpl, 10); len(m) != 1 || m[0].FacialID != faceA.FacialID {
		t.Fatalf("A's search after B enrolled = %v", m)
	}
	if m, _ := db.Search(ctx, b.ID, tmpl, 10); len(m) != 1 || m[0].FacialID != faceB.FacialID {
		t.Fatalf("B's search = %v", m)
	}
}

func TestReopen(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	a, secA := mustApp(t, db, "A")
	b, _ := mustApp(t, db, "B")
	r := rand.New(rand.NewPCG(7, 8))
	var faces, facesB []*likeness.Face
	var tmpls, tmplsB [][]float32
	for range 10 {
		tm := randTemplate(r, 256)
		tmpls = append(tmpls, tm)
		faces = append(faces, mustEnroll(t, db, a.ID, tm))
		// B's faces, of another dimension, between A's in the table.
		tm = randTemplate(r, 128)
		tmplsB = append(tmplsB, tm)
		facesB = append(facesB, mustEnroll(t, db, b.ID, tm))
	}
	if err := db.DeleteFace(ctx, a.ID, faces[3].FacialID, likeness.ReasonAPI); err != nil {
		t.Fatal(err)
	}
	priv, kid, err := db.SigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	db = f.open(t)
	if db.Index().Len(a.CollectionID) != 9 || db.Index().Len(b.CollectionID) != 10 {
		t.Fatalf("reloaded index holds %d and %d faces, want 9 and 10", db.Index().Len(a.CollectionID), db.Index().Len(b.CollectionID))
	}
	for i, tm := range tmplsB {
		if m, err := db.Search(ctx, b.ID, tm, 1); err != nil || m[0].FacialID != facesB[i].FacialID {
			t.Fatalf("B's face %d: %+v, %v", i, m, err)
		}
	}
	for i, tm := range tmpls {
		m, err := db.Search(ctx, a.ID, tm, 1)
		if err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			if m[0].FacialID == faces[3].FacialID {
				t.Fatal("deleted face came back")
			}
			continue
		}
		if m[0].FacialID != faces[i].FacialID || m[0].Similarity < 0.9999 {
			t.Fatalf("face %d: %+v", i, m)
		}
	}
	if app, err := db.VerifyAPIKey(ctx, secA.APIKey); err != nil || app.ID != a.ID {
		t.Fatalf("API key after reopen: %v", err)
	}
	priv2, kid2, err := db.SigningKey(ctx)
	if err != nil || kid2 != kid || !priv2.Equal(priv) {
		t.Fatalf("signing key changed across reopen (%s → %s, %v)", kid, kid2, err)
	}
	// New enrollments after reopen keep working.
	mustEnroll(t, db, a.ID, randTemplate(r, 256))

	// Migrations ran once.
	var n int
	f.raw(t).QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n)
	entries, _ := os.ReadDir("migrations")
	if n != len(entries) || n == 0 {
		t.Fatalf("schema_migrations has %d rows for %d files", n, len(entries))
	}
}

func TestOpenRefusals(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	db.Close()

	other, _ := crypt.NewDataKey()
	tests := []struct {
		name string
		path string
		key  []byte
		want string
	}{
		{"wrong master key", f.path, other, "master key does not match"},
		{"short master key", f.path, other[:16], "master key must be"},
		{"no master key", f.path, nil, "master key must be"},
	}
	if !pgtest.Enabled() {
		tests = append(tests, []struct {
			name string
			path string
			key  []byte
			want string
		}{
			{"memory database", ":memory:", other, "not a plain file path"},
			{"URI", "file:x.db?mode=ro", other, "not a plain file path"},
		}...)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlite.Open(ctx, tt.path, sqlite.Options{MasterKey: tt.key})
			if err == nil {
				db.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestFilePermissions(t *testing.T) {
	sqliteOnly(t)
	f := newFixture(t)
	db := f.open(t)
	app, _ := mustApp(t, db, "A")
	mustEnroll(t, db, app.ID, []float32{1, 2, 3})
	for _, p := range []string{f.path, f.path + "-wal", filepath.Dir(f.path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %#o", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

// TestCiphertextBoundToRow moves one face's sealed template onto another row
// and checks that the store refuses to load it.
func TestCiphertextBoundToRow(t *testing.T) {
	tests := []struct {
		name  string
		query string
	}{
		{"template moved to another face", `UPDATE faces SET template_sealed = (SELECT template_sealed FROM faces WHERE facial_id = ?2) WHERE facial_id = ?1`},
		{"face moved to another app", `UPDATE faces SET app_id = (SELECT app_id FROM faces WHERE facial_id = ?2) WHERE facial_id = ?1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			db := f.open(t)
			a, _ := mustApp(t, db, "A")
			b, _ := mustApp(t, db, "B")
			fa := mustEnroll(t, db, a.ID, []float32{1, 0, 0})
			fa2 := mustEnroll(t, db, a.ID, []float32{0, 1, 0})
			fb := mustEnroll(t, db, b.ID, []float32{0, 0, 1})
			db.Close()
			other := fa2.FacialID
			if strings.Contains(tt.name, "app") {
				other = fb.FacialID
			}
			raw := f.raw(t)
			raw.Exec(`PRAGMA foreign_keys = OFF`)
			if _, err := raw.Exec(tt.query, fa.FacialID, other); err != nil {
				t.Fatal(err)
			}
			raw.Close()
			_, err := sqlite.Open(ctx, f.path, sqlite.Options{MasterKey: f.key})
			if err == nil || !strings.Contains(err.Error(), fa.FacialID) {
				t.Fatalf("Open = %v, want a decryption error naming the face", err)
			}
		})
	}
}

func TestSigningKey(t *testing.T) {
	db := sqlite.OpenTest(t)
	var wg sync.WaitGroup
	kids := make([]string, 8)
	for i := range kids {
		wg.Go(func() {
			k, kid, err := db.SigningKey(ctx)
			if err != nil || k.Curve.Params().Name != "P-256" {
				t.Error(err)
			}
			kids[i] = kid
		})
	}
	wg.Wait()
	for _, kid := range kids {
		if kid != kids[0] || len(kid) != 43 {
			t.Fatalf("kids %v", kids)
		}
	}
	k, kid, _ := db.SigningKey(ctx)
	if tp, _ := sqlite.Thumbprint(&k.PublicKey); tp != kid {
		t.Fatalf("kid %s is not the thumbprint %s", kid, tp)
	}
}

func TestConcurrentEnrollSearch(t *testing.T) {
	db := sqlite.OpenTest(t)
	apps := make([]*likeness.Application, 3)
	consents := make([]string, 3)
	for i := range apps {
		apps[i], _ = mustApp(t, db, fmt.Sprint("app", i))
		consents[i] = mustConsent(t, db, apps[i].ID)
	}
	const workers, perWorker = 6, 15
	var wg sync.WaitGroup
	enrolled := make([][]string, workers)
	for w := range workers {
		app := apps[w%len(apps)]
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range perWorker {
				face, err := db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: consents[w%len(apps)], Template: randTemplate(r, 64)})
				if err != nil {
					t.Error(err)
					return
				}
				enrolled[w] = append(enrolled[w], face.FacialID)
				if i%4 == 0 {
					if err := db.DeleteFace(ctx, app.ID, face.FacialID, likeness.ReasonAPI); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 2))
			for range perWorker * 2 {
				m, err := db.Search(ctx, app.ID, randTemplate(r, 64), 5)
				if err != nil {
					t.Error(err)
					return
				}
				for _, x := range m {
					if _, err := db.Face(ctx, app.ID, x.FacialID); err != nil && likeness.ErrorCode(err) != likeness.ENOTFOUND {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, app := range apps {
		n, err := db.CountFaces(ctx, app.ID)
		if err != nil {
			t.Fatal(err)
		}
		if db.Index().Len(app.CollectionID) != n {
			t.Fatalf("index holds %d faces of %s, database %d", db.Index().Len(app.CollectionID), app.Name, n)
		}
		total += n
	}
	if want := workers * (perWorker - (perWorker+3)/4); total != want {
		t.Fatalf("%d faces, want %d", total, want)
	}
}
