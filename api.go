package likeness

import (
	"encoding/json"
	"time"
)

// Types of the REST API's store calls.

// APIKey describes an API key without the key itself.
type APIKey struct {
	ID         string
	AppID      string
	Prefix     string // the key's first characters, e.g. "lk_Ab3dE9xQ"
	Role       string // "owner" or "member"
	CreatedAt  time.Time
	LastUsedAt *time.Time // updated at most once a minute
	RevokedAt  *time.Time
}

// Principal is who an API key speaks for.
type Principal struct {
	App *Application
	Key *APIKey
}

// FaceListing is a page of faces.
type FaceListing struct {
	Faces      []*Face
	NextCursor string // empty on the last page
}

// CollectionPatch changes a collection's policy; nil fields stay as they are.
type CollectionPatch struct {
	Name           *string
	RetentionDays  *int // with ClearRetention false
	ClearRetention bool // keep faces until deleted
	StoreImages    *bool
}

// FacePatch changes a face's external ID or metadata (payload); nil fields
// stay as they are, ClearPayload removes the payload.
type FacePatch struct {
	ExternalID   *string
	Payload      json.RawMessage
	ClearPayload bool
}

// FaceExtras are stored facts about a face beyond likeness.Face.
type FaceExtras struct {
	HasPIN  bool
	PINHash string
	Images  int
}

// UsageRecord is an aggregate of API calls by one key on one day.
type UsageRecord struct {
	KeyID   string    `json:"keyId"`
	AppID   string    `json:"-"`
	Day     time.Time `json:"day"`
	Route   string    `json:"route"`
	Status  int       `json:"status"`
	Count   int       `json:"count"`
	TotalMs int64     `json:"totalMs"`
}

// Export is an application's data in portable form: no templates or images.
type Export struct {
	Application struct {
		PublicID  string    `json:"publicId"`
		Name      string    `json:"name"`
		Origins   []string  `json:"origins"`
		CreatedAt time.Time `json:"createdAt"`
	} `json:"application"`
	Collection struct {
		ID            string `json:"id"`
		Name          string `json:"name"`
		RetentionDays *int   `json:"retentionDays"`
		StoreImages   bool   `json:"storeImages"`
	} `json:"collection"`
	Faces          []ExportFace    `json:"faces"`
	ConsentRecords []ExportConsent `json:"consentRecords"`
	Notices        []ExportNotice  `json:"notices"`
	ExportedAt     time.Time       `json:"exportedAt"`
}

// ExportFace is one face in an export.
type ExportFace struct {
	FacialID   string          `json:"facialId"`
	ExternalID string          `json:"externalId,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	ConsentID  string          `json:"consentId"`
	EnrolledAt time.Time       `json:"enrolledAt"`
	LastAuthAt *time.Time      `json:"lastAuthenticatedAt,omitempty"`
}

// ExportConsent is one consent record in an export.
type ExportConsent struct {
	ID            string     `json:"id"`
	Kind          string     `json:"kind"`
	NoticeVersion int        `json:"noticeVersion"`
	NoticeSHA256  string     `json:"noticeSha256"`
	Locale        string     `json:"locale,omitempty"`
	Method        string     `json:"method,omitempty"`
	ObtainedAt    *time.Time `json:"obtainedAt,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
}

// ExportNotice is one notice version in an export.
type ExportNotice struct {
	Version   int       `json:"version"`
	Locale    string    `json:"locale"`
	Title     string    `json:"title"`
	Text      string    `json:"text"`
	SHA256    string    `json:"sha256"`
	CreatedAt time.Time `json:"createdAt"`
}

// AuditProblem is one break found by VerifyAudit.
type AuditProblem struct {
	OrgID   string `json:"orgId"`
	Seq     int64  `json:"seq"`
	Problem string `json:"problem"`
}
