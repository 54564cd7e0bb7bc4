package likeness

import (
	"context"
	"encoding/json"
	"time"
)

// MaxPayloadBytes is the largest payload (widget) or metadata (API) accepted
// for one Facial ID.
const MaxPayloadBytes = 16 << 10

// Application is a site owner's unit: one public ID for the widget, allowed
// origins, and exactly one collection of faces.
type Application struct {
	ID           string    // internal ID, never shown to browsers
	OrgID        string    // the organization that owns it
	PublicID     string    // the ID passed to new faceIO(publicId)
	Name         string    // display name
	Origins      []string  // allowed origins for the widget (scheme://host[:port])
	CollectionID string    // the application's one collection
	CreatedAt    time.Time // creation time
}

// AppCreate is the input to AppService.CreateApp.
type AppCreate struct {
	OrgID      string // existing organization; empty creates one named after the application
	Name       string
	Origins    []string
	WebhookURL string // optional first webhook endpoint
}

// AppSecrets are the secrets made when an application is created. They are
// shown once and stored only hashed (API key) or encrypted (webhook secret).
type AppSecrets struct {
	APIKey        string
	WebhookSecret string // "whsec_…"; empty when no webhook URL was given
}

// AppService stores applications.
type AppService interface {
	// CreateApp creates an application and its collection. EINVALID for a bad
	// name or origin.
	CreateApp(ctx context.Context, in AppCreate) (*Application, *AppSecrets, error)
	// AppByPublicID returns the application. ENOTFOUND when there is none.
	AppByPublicID(ctx context.Context, publicID string) (*Application, error)
}

// Notice is one version of an application's consent notice for one locale.
type Notice struct {
	AppID     string
	Version   int    // increases with every change of the text
	Locale    string // BCP 47 base language, e.g. "en"
	Title     string
	Text      string
	SHA256    string // hex SHA-256 of Title + "\n\n" + Text
	CreatedAt time.Time
}

// Consent kinds.
const (
	ConsentWidget      = "widget_accept"    // the user accepted the notice in the widget
	ConsentAttestation = "site_attestation" // the site says it collected consent itself
	ConsentAPI         = "api_attestation"  // an API client attests consent
)

// ConsentRecord proves that consent was given before enrollment.
type ConsentRecord struct {
	ID            string
	AppID         string
	Kind          string // ConsentWidget, ConsentAttestation or ConsentAPI
	NoticeVersion int
	NoticeSHA256  string
	Locale        string
	SessionID     string     // the widget session (or API request ID)
	Method        string     // API attestations: how the site obtained consent
	ObtainedAt    *time.Time // API attestations: when the site obtained it
	CreatedAt     time.Time
	// Pending marks a record made for an enrollment that has not committed
	// yet (not stored): its consent.recorded webhook is held until the
	// enrollment commits, and DiscardConsent removes both if it fails.
	Pending bool
}

// ConsentService keeps notices and consent records.
type ConsentService interface {
	// CurrentNotice returns the newest notice for the locale, falling back to
	// English; a default notice is created when the application has none.
	CurrentNotice(ctx context.Context, app *Application, locale string) (*Notice, error)
	// RecordConsent stores a consent record and returns it with ID and time.
	// ECONSENT when a widget acceptance names a notice version or hash that is
	// not the application's.
	RecordConsent(ctx context.Context, rec ConsentRecord) (*ConsentRecord, error)
	// DiscardConsent removes a record no Facial ID links to (its enrollment
	// failed), with its consent.recorded event; it keeps a linked record.
	DiscardConsent(ctx context.Context, appID, id string) error
}

// Face is one enrolled person (a Facial ID) in one application's collection.
type Face struct {
	FacialID   string // UUID
	AppID      string
	ExternalID string
	Payload    json.RawMessage // ≤ MaxPayloadBytes, nil when absent
	ConsentID  string
	EnrolledAt time.Time
	LastAuthAt *time.Time
}

// Enrollment is the input to FaceService.Enroll.
type Enrollment struct {
	AppID      string
	Images     [][]byte  // source images to keep (sealed) when the collection stores images
	ConsentID  string    // required: no enrollment without consent
	Template   []float32 // L2-normalised embedding
	Payload    json.RawMessage
	ExternalID string
	PIN        string // optional PIN (digits), stored as argon2id and a keyed MAC
}

// Match is one search hit.
type Match struct {
	FacialID   string
	Similarity float32 // cosine similarity; never sent to a browser
}

// FaceService stores faces and searches an application's collection.
type FaceService interface {
	// Enroll stores the face (template encrypted) and indexes it. ECONSENT when
	// the consent record does not exist for this application.
	Enroll(ctx context.Context, in Enrollment) (*Face, error)
	// Search returns up to k best matches in the application's collection only,
	// best first.
	Search(ctx context.Context, appID string, probe []float32, k int) ([]Match, error)
	// Face returns one face. ENOTFOUND when it is not in this application.
	Face(ctx context.Context, appID, facialID string) (*Face, error)
	// TouchAuth records a successful authentication time.
	TouchAuth(ctx context.Context, appID, facialID string) error
	// DeleteFace erases every copy of the face; reason is one of the Reason*
	// constants and goes into the facialid.deleted event. ENOTFOUND when absent.
	DeleteFace(ctx context.Context, appID, facialID, reason string) error
}
