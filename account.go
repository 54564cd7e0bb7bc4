package likeness

import (
	"encoding/json"
	"strings"
	"time"
)

// OrgRetention is how long a deleted organization's non-biometric data
// (members, settings, audit trail) is kept for a restore before it is
// purged. Biometric data never waits: it is erased at deletion.
const OrgRetention = 90 * 24 * time.Hour

// DeletionKeyWait bounds how long a deleted organization's application keys
// outlive it while the facialid.deleted webhooks are still being delivered;
// the keys go at the first of "every delivery finished" and this.
const DeletionKeyWait = 24 * time.Hour

// OrgDeletion is what deleting an organization did.
type OrgDeletion struct {
	OrgID        string
	Applications int       // applications whose data was erased
	FacesErased  int       // Facial IDs erased, each with a facialid.deleted event
	DeletedAt    time.Time // the organization is disabled from then on
	PurgeAfter   time.Time // members and audit trail are purged then
}

// CanRestoreOrg reports whether an organization deleted at deletedAt may
// still be restored at now: within OrgRetention, never before it was
// deleted (a clock gone backwards restores nothing by surprise).
func CanRestoreOrg(deletedAt, now time.Time) bool {
	return !deletedAt.IsZero() && !now.Before(deletedAt) && now.Sub(deletedAt) < OrgRetention
}

// ConfirmOrgName reports whether typed confirms deleting an organization
// named name: the exact name, ignoring surrounding spaces. An empty name
// confirms nothing.
func ConfirmOrgName(name, typed string) bool {
	return name != "" && strings.TrimSpace(typed) == name
}

// SoleOwnerOrgs returns the organizations (of memberships, an account's)
// the account is the only owner of, given each organization's owner
// count: the account cannot delete itself while any remains.
func SoleOwnerOrgs(memberships []*Membership, owners map[string]int) []Organization {
	var out []Organization
	for _, m := range memberships {
		if m.Role == OrgOwner && owners[m.Org.ID] <= 1 {
			out = append(out, m.Org)
		}
	}
	return out
}

// AccountExport is everything an organization holds except biometrics:
// offered before the organization is deleted.
type AccountExport struct {
	Organization   ExportOrg         `json:"organization"`
	ExportedAt     time.Time         `json:"exportedAt"`
	Members        []ExportMember    `json:"members"`
	Applications   []ExportApp       `json:"applications"`
	ConsentRecords []ExportConsentOf `json:"consentRecords"`
	Audit          []ExportAudit     `json:"audit"`
}

// ExportOrg is the organization in an AccountExport.
type ExportOrg struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// ExportMember is one member in an AccountExport.
type ExportMember struct {
	Email    string    `json:"email"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joinedAt"`
}

// ExportApp is one application, with its settings, in an AccountExport.
type ExportApp struct {
	PublicID     string          `json:"publicId"`
	Name         string          `json:"name"`
	Origins      []string        `json:"origins"`
	CollectionID string          `json:"collectionId"`
	CreatedAt    time.Time       `json:"createdAt"`
	Settings     *Settings       `json:"settings"`
	Faces        int             `json:"faces"` // how many; never the faces themselves
	Notices      []ExportNotice  `json:"notices"`
	Webhooks     []ExportWebhook `json:"webhooks"`
}

// ExportWebhook is a webhook endpoint (never its secret) in an AccountExport.
type ExportWebhook struct {
	URL     string   `json:"url"`
	Events  []string `json:"events"`
	Enabled bool     `json:"enabled"`
}

// ExportConsentOf is one consent record in an AccountExport.
type ExportConsentOf struct {
	ID            string     `json:"id"`
	Application   string     `json:"application"` // public ID
	Kind          string     `json:"kind"`
	NoticeVersion int        `json:"noticeVersion,omitempty"`
	NoticeSHA256  string     `json:"noticeSha256,omitempty"`
	Locale        string     `json:"locale,omitempty"`
	Method        string     `json:"method,omitempty"`
	ObtainedAt    *time.Time `json:"obtainedAt,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
}

// ExportAudit is one audit entry in an AccountExport.
type ExportAudit struct {
	Seq     int64           `json:"seq"`
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	AppID   string          `json:"appId,omitempty"`
	Target  string          `json:"target,omitempty"`
	Details json.RawMessage `json:"details,omitempty"`
	Hash    string          `json:"hash"`
}
