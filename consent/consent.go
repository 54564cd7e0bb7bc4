// Package consent keeps the consent notices shown to end users (versioned,
// per locale, identified by the hash of their exact text) and the consent
// records that must exist before a face is enrolled.
package consent

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
)

// Placeholders filled in notice texts, per application.
const (
	PlaceholderApp        = "{{app}}"        // the application's name
	PlaceholderPrivacyURL = "{{privacyUrl}}" // the absolute URL of the application's privacy page
)

// Limits on notice texts and record fields.
const (
	MaxTitleLen   = 200    // characters
	MaxTextLen    = 20_000 // characters
	MaxSessionLen = 200    // bytes
)

// DefaultLocale is the locale used when no notice exists for the requested one.
const DefaultLocale = "en"

// timePrecision is the precision of stored times.
const timePrecision = time.Millisecond

//go:embed notices/*.txt
var defaults embed.FS

// Store is the persistence consent needs; store/sqlite implements it.
type Store interface {
	// LatestNotice returns the highest version of the application's notice
	// for the base locale. ENOTFOUND when there is none.
	LatestNotice(ctx context.Context, appID, locale string) (*likeness.Notice, error)
	// CreateNotice stores a notice. ECONFLICT when that version exists,
	// ENOTFOUND when the application does not.
	CreateNotice(ctx context.Context, n *likeness.Notice) error
	// CreateConsentRecord stores a record. ENOTFOUND when the application
	// does not exist.
	CreateConsentRecord(ctx context.Context, rec *likeness.ConsentRecord) error
	// DiscardConsentRecord removes a record no Facial ID links to, with its
	// consent.recorded event; a linked record is kept.
	DiscardConsentRecord(ctx context.Context, appID, id string) error
}

// Service implements likeness.ConsentService.
type Service struct {
	store     Store
	now       func() time.Time
	publicURL string // this server's URL, for {{privacyUrl}}
}

var _ likeness.ConsentService = (*Service)(nil)

// Option configures a Service.
type Option func(*Service)

// WithPublicURL sets the URL browsers reach this server at, so that
// {{privacyUrl}} in a notice is an absolute link to the privacy page (a
// notice is read on the application's own site, where a path would point
// at the wrong server).
func WithPublicURL(u string) Option {
	return func(s *Service) { s.publicURL = strings.TrimRight(u, "/") }
}

// New returns a Service over store. now is the clock; nil means time.Now.
func New(store Store, now func() time.Time, opts ...Option) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{store: store, now: now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Hash returns the hex SHA-256 of title + "\n\n" + text: the identity of a
// notice's exact wording.
func Hash(title, text string) string {
	h := sha256.New()
	h.Write([]byte(title))
	h.Write([]byte("\n\n"))
	h.Write([]byte(text))
	return hex.EncodeToString(h.Sum(nil))
}

// PrivacyPath returns the path of the application's self-service privacy page.
func PrivacyPath(publicID string) string {
	return "/privacy/" + publicID
}

// Locales returns the locales that have a default notice, sorted.
func Locales() []string {
	entries, _ := defaults.ReadDir("notices")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".txt"))
	}
	slices.Sort(out)
	return out
}

// Default returns the default notice template for a base locale, with its
// placeholders unfilled, and whether there is one.
func Default(locale string) (title, text string, ok bool) {
	b, err := defaults.ReadFile(path.Join("notices", locale+".txt"))
	if err != nil {
		return "", "", false
	}
	title, text, _ = strings.Cut(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	return strings.TrimSpace(title), strings.TrimSpace(text), true
}

// PrivacyURL returns the absolute URL of the application's self-service
// privacy page on the server at publicURL.
func PrivacyURL(publicURL, publicID string) string {
	return strings.TrimRight(publicURL, "/") + PrivacyPath(publicID)
}

// Render fills the placeholders of a notice title or text for app, on the
// server at publicURL.
func Render(s string, app *likeness.Application, publicURL string) string {
	return strings.NewReplacer(
		PlaceholderApp, app.Name,
		PlaceholderPrivacyURL, PrivacyURL(publicURL, app.PublicID),
	).Replace(s)
}

// BaseLocale returns the lower-case base language of a BCP 47 tag ("fr-CA"
// → "fr"), or DefaultLocale when tag is empty or malformed.
func BaseLocale(tag string) string {
	if l, ok := parseLocale(tag); ok {
		return l
	}
	return DefaultLocale
}

func parseLocale(tag string) (string, bool) {
	base, _, _ := strings.Cut(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"), "-")
	if len(base) < 2 || len(base) > 3 {
		return "", false
	}
	for _, r := range base {
		if r > unicode.MaxASCII || !unicode.IsLetter(r) {
			return "", false
		}
	}
	return strings.ToLower(base), true
}

// CurrentNotice returns the newest notice of the application for the locale's
// base language, falling back to English. When the application has no notice
// for that language (or for English) and a default text exists, version 1 is
// created from the default text.
func (s *Service) CurrentNotice(ctx context.Context, app *likeness.Application, locale string) (*likeness.Notice, error) {
	if app == nil || app.ID == "" {
		return nil, likeness.Errorf(likeness.EINVALID, "Application is required.")
	}
	for _, loc := range candidates(BaseLocale(locale)) {
		n, err := s.store.LatestNotice(ctx, app.ID, loc)
		if err == nil {
			return n, nil
		}
		if likeness.ErrorCode(err) != likeness.ENOTFOUND {
			return nil, err
		}
		title, text, ok := Default(loc)
		if !ok {
			continue
		}
		n = s.notice(app, loc, 1, Render(title, app, s.publicURL), Render(text, app, s.publicURL))
		err = s.store.CreateNotice(ctx, n)
		if likeness.ErrorCode(err) == likeness.ECONFLICT { // created concurrently
			return s.store.LatestNotice(ctx, app.ID, loc)
		}
		if err != nil {
			return nil, err
		}
		return n, nil
	}
	return nil, likeness.Errorf(likeness.ENOTFOUND, "No consent notice.")
}

// SetNotice stores a new version of the application's notice for the locale's
// base language, with placeholders filled, and returns it. When the text is
// unchanged the current notice is returned and no version is added. EINVALID
// for a malformed locale, an empty, oversized or multi-line title, or an
// empty or oversized text.
func (s *Service) SetNotice(ctx context.Context, app *likeness.Application, locale, title, text string) (*likeness.Notice, error) {
	if app == nil || app.ID == "" {
		return nil, likeness.Errorf(likeness.EINVALID, "Application is required.")
	}
	loc, ok := parseLocale(locale)
	if !ok {
		return nil, likeness.Errorf(likeness.EINVALID, "Locale must be a language tag such as \"en\" or \"fr-CA\".")
	}
	title, text = strings.TrimSpace(title), strings.TrimSpace(text)
	if err := checkText("Title", title, MaxTitleLen); err != nil {
		return nil, err
	}
	if err := checkText("Text", text, MaxTextLen); err != nil {
		return nil, err
	}
	if strings.ContainsAny(title, "\r\n") {
		// A one-line title keeps Hash unambiguous.
		return nil, likeness.Errorf(likeness.EINVALID, "Title must be one line.")
	}
	title, text = Render(title, app, s.publicURL), Render(text, app, s.publicURL)
	for range 5 {
		version := 1
		cur, err := s.store.LatestNotice(ctx, app.ID, loc)
		switch {
		case err == nil:
			if cur.SHA256 == Hash(title, text) {
				return cur, nil
			}
			version = cur.Version + 1
		case likeness.ErrorCode(err) != likeness.ENOTFOUND:
			return nil, err
		}
		n := s.notice(app, loc, version, title, text)
		err = s.store.CreateNotice(ctx, n)
		if likeness.ErrorCode(err) == likeness.ECONFLICT {
			continue // another version was stored meanwhile; go on top of it
		}
		if err != nil {
			return nil, err
		}
		return n, nil
	}
	return nil, likeness.Errorf(likeness.ECONFLICT, "The notice is being changed concurrently; try again.")
}

// RecordConsent stores a consent record with a new ID and the current time.
// A widget acceptance (ConsentWidget) must name the version and hash of the
// application's current notice for its locale (falling back to English), else
// ECONSENT; its Locale is set to the notice's. EINVALID for an unknown kind or
// malformed fields; ENOTFOUND when the application does not exist.
func (s *Service) RecordConsent(ctx context.Context, rec likeness.ConsentRecord) (*likeness.ConsentRecord, error) {
	if rec.AppID == "" {
		return nil, likeness.Errorf(likeness.EINVALID, "Application is required.")
	}
	if len(rec.SessionID) > MaxSessionLen || !utf8.ValidString(rec.SessionID) {
		return nil, likeness.Errorf(likeness.EINVALID, "Session ID is too long.")
	}
	switch rec.Kind {
	case likeness.ConsentWidget:
		n, err := s.latest(ctx, rec.AppID, BaseLocale(rec.Locale))
		if likeness.ErrorCode(err) == likeness.ENOTFOUND {
			return nil, likeness.Errorf(likeness.ECONSENT, "The consent notice is not this application's current notice.")
		}
		if err != nil {
			return nil, err
		}
		if rec.NoticeVersion != n.Version || rec.NoticeSHA256 != n.SHA256 {
			return nil, likeness.Errorf(likeness.ECONSENT, "The consent notice is not this application's current notice.")
		}
		rec.Locale = n.Locale
	case likeness.ConsentAttestation, likeness.ConsentAPI:
		if rec.NoticeVersion < 0 {
			return nil, likeness.Errorf(likeness.EINVALID, "Notice version must not be negative.")
		}
		if rec.NoticeSHA256 != "" && !isHexSHA256(rec.NoticeSHA256) {
			return nil, likeness.Errorf(likeness.EINVALID, "Notice hash must be a hex SHA-256.")
		}
		if rec.Locale != "" {
			rec.Locale = BaseLocale(rec.Locale)
		}
	default:
		return nil, likeness.Errorf(likeness.EINVALID, "Unknown consent kind.")
	}
	rec.ID = uuid.NewString()
	rec.CreatedAt = s.now().UTC().Truncate(timePrecision)
	if err := s.store.CreateConsentRecord(ctx, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// latest returns the newest stored notice for locale or, failing that, for
// English, without creating one.
func (s *Service) latest(ctx context.Context, appID, locale string) (*likeness.Notice, error) {
	var err error
	for _, loc := range candidates(locale) {
		var n *likeness.Notice
		n, err = s.store.LatestNotice(ctx, appID, loc)
		if likeness.ErrorCode(err) != likeness.ENOTFOUND {
			return n, err
		}
	}
	return nil, err
}

func (s *Service) notice(app *likeness.Application, locale string, version int, title, text string) *likeness.Notice {
	return &likeness.Notice{
		AppID:     app.ID,
		Version:   version,
		Locale:    locale,
		Title:     title,
		Text:      text,
		SHA256:    Hash(title, text),
		CreatedAt: s.now().UTC().Truncate(timePrecision),
	}
}

func candidates(locale string) []string {
	if locale == DefaultLocale {
		return []string{locale}
	}
	return []string{locale, DefaultLocale}
}

func checkText(field, s string, limit int) error {
	if s == "" {
		return likeness.Errorf(likeness.EINVALID, "%s is required.", field)
	}
	if !utf8.ValidString(s) {
		return likeness.Errorf(likeness.EINVALID, "%s is not valid UTF-8.", field)
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return likeness.Errorf(likeness.EINVALID, "%s is longer than %d characters.", field, limit)
	}
	return nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// DiscardConsent removes a consent record whose enrollment did not complete,
// and its consent.recorded event; a record a Facial ID links to is kept.
func (s *Service) DiscardConsent(ctx context.Context, appID, id string) error {
	return s.store.DiscardConsentRecord(ctx, appID, id)
}
