package consent_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/consent"
	"github.com/likeness/likeness/store/sqlite"
)

// The embedded store is a consent store.
var _ consent.Store = (*sqlite.DB)(nil)

var ctx = context.Background()

type clock struct{ t atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *clock) Advance(d time.Duration) { c.t.Add(int64(d)) }

func setup(t *testing.T) (*consent.Service, *sqlite.DB, *likeness.Application, *clock) {
	t.Helper()
	db := sqlite.OpenTest(t)
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Acme Shop", Origins: []string{"https://acme.example"}})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{}
	c.t.Store(time.Date(2025, 6, 1, 9, 30, 0, 123456789, time.FixedZone("CEST", 7200)).UnixNano())
	return consent.New(db, c.Now, consent.WithPublicURL(testServer+"/")), db, app, c
}

// testServer is the public URL the service is given.
const testServer = "https://likeness.test"

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := likeness.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func TestHash(t *testing.T) {
	sum := sha256.Sum256([]byte("Title\n\nText"))
	if got := consent.Hash("Title", "Text"); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("Hash = %s", got)
	}
}

func TestBaseLocale(t *testing.T) {
	for in, want := range map[string]string{
		"fr-CA": "fr", "FR": "fr", "en_GB": "en", "de": "de", "": "en", "x": "en",
		"français": "en", "123": "en", " es-419 ": "es", "gsw-CH": "gsw",
	} {
		if got := consent.BaseLocale(in); got != want {
			t.Errorf("BaseLocale(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDefaultTexts(t *testing.T) {
	if got := consent.Locales(); strings.Join(got, ",") != "ar,de,en,es,fr,it,ja,nl,pl,pt,tr" {
		t.Fatalf("Locales = %v", got)
	}
	// What every default notice must say, in each language.
	must := map[string][]string{
		"en": {"template", "camera", "not a photo", "No photos", "never stored", "log in", "until you delete it",
			"retention period", "never sold", "shared", "delete it at any time", "{{privacyUrl}}", "{{app}}"},
		"fr": {"modèle", "caméra", "pas une photo", "Aucune photo", "jamais enregistrées", "connectez",
			"jusqu'à ce que vous le supprimiez", "durée de conservation", "jamais vendu", "partagé", "supprimer",
			"{{privacyUrl}}", "{{app}}"},
	}
	for loc, phrases := range must {
		title, text, ok := consent.Default(loc)
		if !ok || title == "" || text == "" {
			t.Fatalf("no default notice for %s", loc)
		}
		if !strings.Contains(title, "{{app}}") {
			t.Errorf("%s title does not name the application", loc)
		}
		for _, p := range phrases {
			if !strings.Contains(text, p) {
				t.Errorf("%s notice does not say %q", loc, p)
			}
		}
	}
	if _, _, ok := consent.Default("ko"); ok {
		t.Fatal("unexpected Korean default")
	}
}

// Every language the widget speaks has a default notice, and each says
// what the English one says: the same paragraphs, the application's name
// in the title and the text, the privacy page's address once.
func TestDefaultNoticeInEveryWidgetLanguage(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "widget", "src", "locales", "*.js"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no widget locale in ../widget/src/locales: %v", err)
	}
	_, enText, _ := consent.Default("en")
	paragraphs := len(strings.Split(enText, "\n\n"))
	for _, f := range files {
		loc := strings.TrimSuffix(filepath.Base(f), ".js")
		t.Run(loc, func(t *testing.T) {
			title, text, ok := consent.Default(loc)
			if !ok {
				t.Fatalf("the widget speaks %s but there is no consent/notices/%s.txt", loc, loc)
			}
			if !strings.Contains(title, consent.PlaceholderApp) || strings.Contains(title, "\n") {
				t.Errorf("title %q", title)
			}
			if n := len(strings.Split(text, "\n\n")); n != paragraphs {
				t.Errorf("%d paragraphs, English has %d", n, paragraphs)
			}
			if strings.Count(text, consent.PlaceholderPrivacyURL) != 1 || strings.Count(text, consent.PlaceholderApp) < 3 {
				t.Errorf("placeholders: %d privacyUrl, %d app", strings.Count(text, consent.PlaceholderPrivacyURL), strings.Count(text, consent.PlaceholderApp))
			}
			if loc != "en" && (text == enText || strings.Contains(text, "What is collected")) {
				t.Error("not translated")
			}
			if strings.Count(text, "{{") != strings.Count(text, consent.PlaceholderPrivacyURL)+strings.Count(text, consent.PlaceholderApp) {
				t.Error("an unknown placeholder")
			}
		})
	}
}

func TestCurrentNotice(t *testing.T) {
	svc, db, app, clk := setup(t)
	tests := []struct {
		locale     string
		wantLocale string
		contains   string
	}{
		{"en", "en", "Acme Shop would like to recognise you"},
		{"fr-CA", "fr", "Acme Shop souhaite vous reconnaître"},
		{"FR", "fr", " " + testServer + "/privacy/" + app.PublicID + "."},
		{"de-DE", "de", " " + testServer + "/privacy/" + app.PublicID + " "},
		{"ar-EG", "ar", testServer + "/privacy/" + app.PublicID},
		{"ko-KR", "en", " " + testServer + "/privacy/" + app.PublicID + "."},
		{"", "en", "Log in to Acme Shop with your face"},
		{"garbage!!", "en", "Acme Shop"},
	}
	for _, tt := range tests {
		t.Run(tt.locale, func(t *testing.T) {
			n, err := svc.CurrentNotice(ctx, app, tt.locale)
			if err != nil {
				t.Fatal(err)
			}
			if n.Locale != tt.wantLocale || n.Version != 1 || n.AppID != app.ID {
				t.Fatalf("notice %s v%d for %s", n.Locale, n.Version, n.AppID)
			}
			full := n.Title + "\n\n" + n.Text
			if !strings.Contains(full, tt.contains) {
				t.Fatalf("notice does not contain %q:\n%s", tt.contains, full)
			}
			if strings.Contains(full, "{{") {
				t.Fatal("unfilled placeholder")
			}
			if n.SHA256 != consent.Hash(n.Title, n.Text) {
				t.Fatal("hash does not match the text")
			}
			if !n.CreatedAt.Equal(clk.Now().Truncate(time.Millisecond)) || n.CreatedAt.Location() != time.UTC {
				t.Fatalf("CreatedAt = %v", n.CreatedAt)
			}
		})
	}
	// Asking again returns the stored version, not a new one.
	clk.Advance(time.Hour)
	n1, _ := svc.CurrentNotice(ctx, app, "en")
	n2, _ := svc.CurrentNotice(ctx, app, "en-US")
	if n1.Version != 1 || n2.SHA256 != n1.SHA256 || !n2.CreatedAt.Equal(n1.CreatedAt) {
		t.Fatal("notice changed on a second call")
	}
	// Korean has no default: it fell back to English and stored nothing.
	if _, err := db.LatestNotice(ctx, app.ID, "ko"); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("a Korean notice was stored: %v", err)
	}
	_, err := svc.CurrentNotice(ctx, nil, "en")
	wantCode(t, err, likeness.EINVALID)
}

func TestCurrentNoticeConcurrent(t *testing.T) {
	svc, _, app, _ := setup(t)
	var wg sync.WaitGroup
	notices := make([]*likeness.Notice, 8)
	for i := range notices {
		wg.Go(func() {
			n, err := svc.CurrentNotice(ctx, app, "fr")
			if err != nil {
				t.Error(err)
			}
			notices[i] = n
		})
	}
	wg.Wait()
	for _, n := range notices {
		if n == nil || n.Version != 1 || n.SHA256 != notices[0].SHA256 {
			t.Fatal("concurrent first calls disagree")
		}
	}
}

func TestSetNotice(t *testing.T) {
	svc, _, app, _ := setup(t)
	v1, _ := svc.CurrentNotice(ctx, app, "en")
	n, err := svc.SetNotice(ctx, app, "en-GB", "Face login at {{app}}", "We keep a template. See {{privacyUrl}}.")
	if err != nil {
		t.Fatal(err)
	}
	if n.Version != 2 || n.Locale != "en" || n.Text != "We keep a template. See "+testServer+"/privacy/"+app.PublicID+"." || n.Title != "Face login at Acme Shop" {
		t.Fatalf("notice %+v", n)
	}
	cur, _ := svc.CurrentNotice(ctx, app, "en")
	if cur.Version != 2 || cur.SHA256 == v1.SHA256 {
		t.Fatalf("current is v%d", cur.Version)
	}
	// Unchanged text: no new version.
	same, err := svc.SetNotice(ctx, app, "en", "Face login at {{app}}", "We keep a template. See {{privacyUrl}}.")
	if err != nil || same.Version != 2 {
		t.Fatalf("same text gave v%d, %v", same.Version, err)
	}
	// A locale without a default can be set and then is used.
	de, err := svc.SetNotice(ctx, app, "de", "Gesichtserkennung", "Text")
	if err != nil || de.Version != 1 {
		t.Fatal(err)
	}
	if cur, _ := svc.CurrentNotice(ctx, app, "de-AT"); cur.Locale != "de" {
		t.Fatalf("de-AT got %s", cur.Locale)
	}
	bad := []struct{ name, locale, title, text string }{
		{"bad locale", "1", "t", "x"},
		{"empty title", "en", " ", "x"},
		{"empty text", "en", "t", ""},
		{"long title", "en", strings.Repeat("t", consent.MaxTitleLen+1), "x"},
		{"long text", "en", "t", strings.Repeat("x", consent.MaxTextLen+1)},
		{"invalid UTF-8", "en", "t", "\xff"},
		{"line break in title", "en", "a\n\nb", "x"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.SetNotice(ctx, app, tt.locale, tt.title, tt.text)
			wantCode(t, err, likeness.EINVALID)
		})
	}
	_, err = svc.SetNotice(ctx, &likeness.Application{ID: "gone", Name: "x"}, "en", "t", "x")
	wantCode(t, err, likeness.ENOTFOUND)
}

func TestRecordConsent(t *testing.T) {
	svc, db, app, clk := setup(t)
	other, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	en, _ := svc.CurrentNotice(ctx, app, "en")
	fr, _ := svc.CurrentNotice(ctx, app, "fr")
	otherEN, _ := svc.CurrentNotice(ctx, other, "en")
	widget := func(locale string, n *likeness.Notice) likeness.ConsentRecord {
		return likeness.ConsentRecord{AppID: app.ID, Kind: likeness.ConsentWidget, NoticeVersion: n.Version,
			NoticeSHA256: n.SHA256, Locale: locale, SessionID: "sess-1"}
	}
	mod := func(r likeness.ConsentRecord, f func(*likeness.ConsentRecord)) likeness.ConsentRecord {
		f(&r)
		return r
	}
	tests := []struct {
		name       string
		rec        likeness.ConsentRecord
		code       string
		wantLocale string
	}{
		{"widget en", widget("en-US", en), "", "en"},
		{"widget fr", widget("fr-CA", fr), "", "fr"},
		{"widget unknown locale accepts en", widget("de", en), "", "en"},
		{"widget fr with en notice", widget("fr", en), likeness.ECONSENT, ""},
		{"widget wrong version", mod(widget("en", en), func(r *likeness.ConsentRecord) { r.NoticeVersion = 2 }), likeness.ECONSENT, ""},
		{"widget version 0", mod(widget("en", en), func(r *likeness.ConsentRecord) { r.NoticeVersion = 0 }), likeness.ECONSENT, ""},
		{"widget wrong hash", mod(widget("en", en), func(r *likeness.ConsentRecord) { r.NoticeSHA256 = consent.Hash("x", "y") }), likeness.ECONSENT, ""},
		{"widget upper-case hash", mod(widget("en", en), func(r *likeness.ConsentRecord) { r.NoticeSHA256 = strings.ToUpper(en.SHA256) }), likeness.ECONSENT, ""},
		{"widget no hash", mod(widget("en", en), func(r *likeness.ConsentRecord) { r.NoticeSHA256 = "" }), likeness.ECONSENT, ""},
		{"widget another app's notice", widget("en", otherEN), likeness.ECONSENT, ""},
		{"widget unknown app", mod(widget("en", en), func(r *likeness.ConsentRecord) { r.AppID = "gone" }), likeness.ECONSENT, ""},
		{"api attestation", likeness.ConsentRecord{AppID: app.ID, Kind: likeness.ConsentAPI, SessionID: "req-9"}, "", ""},
		{"site attestation with locale", likeness.ConsentRecord{AppID: app.ID, Kind: likeness.ConsentAttestation, Locale: "fr-BE"}, "", "fr"},
		{"attestation bad hash", likeness.ConsentRecord{AppID: app.ID, Kind: likeness.ConsentAPI, NoticeSHA256: "abc"}, likeness.EINVALID, ""},
		{"attestation unknown app", likeness.ConsentRecord{AppID: "gone", Kind: likeness.ConsentAPI}, likeness.ENOTFOUND, ""},
		{"unknown kind", likeness.ConsentRecord{AppID: app.ID, Kind: "implied"}, likeness.EINVALID, ""},
		{"no app", likeness.ConsentRecord{Kind: likeness.ConsentAPI}, likeness.EINVALID, ""},
		{"long session", likeness.ConsentRecord{AppID: app.ID, Kind: likeness.ConsentAPI, SessionID: strings.Repeat("s", 201)}, likeness.EINVALID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := svc.RecordConsent(ctx, tt.rec)
			wantCode(t, err, tt.code)
			if tt.code != "" {
				if got != nil {
					t.Fatal("record returned with an error")
				}
				return
			}
			if _, err := uuid.Parse(got.ID); err != nil {
				t.Fatalf("ID %q", got.ID)
			}
			if !got.CreatedAt.Equal(clk.Now().Truncate(time.Millisecond)) {
				t.Fatalf("CreatedAt %v", got.CreatedAt)
			}
			if got.Locale != tt.wantLocale {
				t.Fatalf("Locale %q, want %q", got.Locale, tt.wantLocale)
			}
			stored, err := db.ConsentRecord(ctx, app.ID, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			if *stored != *got {
				t.Fatalf("stored %+v\nreturned %+v", stored, got)
			}
			if _, err := db.ConsentRecord(ctx, other.ID, got.ID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
				t.Fatal("another application sees the record")
			}
		})
	}

	// After the notice changes, acceptance of the old version is refused.
	if _, err := svc.SetNotice(ctx, app, "en", "New", "New text"); err != nil {
		t.Fatal(err)
	}
	_, err = svc.RecordConsent(ctx, widget("en", en))
	wantCode(t, err, likeness.ECONSENT)
}

// TestConsentThenEnroll is the path the widget takes: notice, acceptance,
// enrollment linked to the record.
func TestConsentThenEnroll(t *testing.T) {
	svc, db, app, _ := setup(t)
	n, err := svc.CurrentNotice(ctx, app, "fr")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := svc.RecordConsent(ctx, likeness.ConsentRecord{AppID: app.ID, Kind: likeness.ConsentWidget,
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Locale: "fr", SessionID: "ws-1"})
	if err != nil {
		t.Fatal(err)
	}
	face, err := db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: rec.ID, Template: []float32{0.6, 0.8}})
	if err != nil {
		t.Fatal(err)
	}
	if face.ConsentID != rec.ID {
		t.Fatal("face not linked to its consent record")
	}
}
