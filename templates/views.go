// Package templates holds the templ components of the console and the
// privacy page, and the typed views they render. Handlers (package web)
// build a view; a component only formats it. Generated *_templ.go files are
// committed: run `make templ` after changing a .templ file.
package templates

import (
	"time"

	"github.com/likeness/likeness"
)

// Assets are the content-hashed URLs of the console's stylesheet and script.
type Assets struct {
	CSS string
	JS  string
}

// Chrome is what every page shows around its content.
type Chrome struct {
	Title   string // the <title> and, unless a page says otherwise, the <h1>
	Assets  Assets
	CSRF    string // the form token of the signed-in session
	User    string // the signed-in account's email; "" when nobody is signed in
	Orgs    []OrgLink
	Flash   string // a confirmation, shown once after a redirect
	Error   string // a problem with the last form, shown above the content
	Version string

	// Support: an operator reads this page under a support access grant.
	Support bool
	// Operator: the signed-in account is an operator (support.go).
	Operator bool
}

// OrgLink names an organization the account belongs to, with its role.
type OrgLink struct {
	ID   string
	Name string
	Role string
}

// AppHeader identifies the application of an application page and the tab
// shown.
type AppHeader struct {
	PublicID string
	Name     string
	OrgID    string
	OrgName  string
	Role     string // the account's role in the organization
	Tab      string // "overview", "faces", "analytics", "consent", "security", "keys", "webhooks"
}

// CanEdit reports whether the role may change the application.
func (a AppHeader) CanEdit() bool { return a.Role == likeness.OrgOwner || a.Role == likeness.OrgAdmin }

// IsOwner reports whether the role is owner.
func (a AppHeader) IsOwner() bool { return a.Role == likeness.OrgOwner }

// ErrorView is an error page.
type ErrorView struct {
	Chrome  Chrome
	Status  int
	Message string
}

// SignInView is the sign-in page.
type SignInView struct {
	Chrome        Chrome
	PreCSRF       string
	Email         string
	Next          string
	SignUpAllowed bool
}

// SignUpView is the sign-up page.
type SignUpView struct {
	Chrome  Chrome
	PreCSRF string
	Email   string
	OrgName string
	Closed  bool // sign-up is not open on this server
}

// AccountView is the account page (password change).
type AccountView struct {
	Chrome    Chrome
	Email     string
	Forced    bool // the account has a one-time password to replace
	CreatedAt time.Time
}

// AppsView lists the account's organizations and their applications.
type AppsView struct {
	Chrome     Chrome
	Groups     []AppGroup
	CreateOrgs []OrgLink // organizations where the account may create applications
	Form       AppForm
}

// AppGroup is one organization's applications.
type AppGroup struct {
	Org  OrgLink
	Apps []AppRow
}

// AppRow is one application in a list.
type AppRow struct {
	PublicID  string
	Name      string
	Faces     int
	Origins   int
	CreatedAt time.Time
}

// AppForm holds the values of the new application form.
type AppForm struct {
	OrgID   string
	Name    string
	Origins string
}

// AppView is an application's overview.
type AppView struct {
	Chrome        Chrome
	App           AppHeader
	ServerURL     string
	PrivacyURL    string
	Origins       string // one per line
	OriginList    []string
	RetentionDays string // "" keeps faces until they are deleted
	StoreImages   bool
	Faces         int
	CollectionID  string // for the REST API's /v1/collections/{id}
	CreatedAt     time.Time
	NewAPIKey     string // the first API key, right after creation only
	// RefusedOrigins counts widget sessions refused for their origin (16
	// EMPTY_ORIGIN, 17 FORBIDDDEN_ORIGIN) in the last RefusedDays days.
	RefusedOrigins int
	RefusedDays    int
}

// ConsentView is the consent notice editor and its versions.
type ConsentView struct {
	Chrome   Chrome
	App      AppHeader
	Locales  []string
	Current  []NoticeRow // the newest version per locale
	Versions []NoticeRow // every version, newest first per locale
	Form     NoticeForm
}

// NoticeRow is one version of a notice.
type NoticeRow struct {
	Locale    string
	Version   int
	Title     string
	Text      string
	SHA256    string
	CreatedAt time.Time
}

// NoticeForm holds the values of the notice editor.
type NoticeForm struct {
	Locale string
	Title  string
	Text   string
}

// SecurityView is an application's security settings form.
type SecurityView struct {
	Chrome         Chrome
	App            AppHeader
	Settings       likeness.Settings
	Countries      string // comma-separated
	Identification IdentificationView
}

// IdentificationView says what face-only login achieves at the collection's
// current size (package identify's estimate, in words and rates).
type IdentificationView struct {
	Faces int
	// FalseAcceptRate is the estimated chance that a stranger is accepted
	// by the face alone in one attempt, formatted ("1 in 10,000").
	FalseAcceptRate string
	// SecondFactorShare is the expected share of logins the face alone
	// cannot accept, formatted ("35%").
	SecondFactorShare string
	Required          bool // a second factor is needed at this size
	Available         bool // the settings offer one (PIN not off)
}

// MaxFARChoices are the targets offered for maxFalseAcceptRate.
var MaxFARChoices = []struct {
	Value float64
	Label string
}{
	{1e-3, "1 in 1,000"}, {1e-4, "1 in 10,000 (recommended)"}, {1e-5, "1 in 100,000"}, {1e-6, "1 in 1,000,000"},
}

// KeysView lists an application's API keys.
type KeysView struct {
	Chrome     Chrome
	App        AppHeader
	Keys       []KeyRow
	NewKey     string // shown once, right after creation
	NewKeyRole string
}

// KeyRow is one API key, without the key.
type KeyRow struct {
	ID         string
	Prefix     string
	Role       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// WebhooksView lists an application's webhook endpoints.
type WebhooksView struct {
	Chrome         Chrome
	App            AppHeader
	Endpoints      []EndpointRow
	IncludePayload bool
	EventTypes     []string
	NewSecret      string // shown once, right after creation
	NewEndpointID  string
	Form           EndpointForm
}

// EndpointForm holds the values of the endpoint form.
type EndpointForm struct {
	URL    string
	Events []string
}

// EndpointRow is one webhook endpoint, without its secret.
type EndpointRow struct {
	ID             string
	URL            string
	Events         []string // empty: every event
	Enabled        bool
	DisabledReason string
	CreatedAt      time.Time
	Rotating       *time.Time // the previous secret still signs until then
}

// WebhookView is one endpoint: its settings and its delivery log.
type WebhookView struct {
	Chrome     Chrome
	App        AppHeader
	Endpoint   EndpointRow
	EventTypes []string
	Deliveries []DeliveryRow
	Attempts   []AttemptRow
	NewSecret  string // shown once, right after a rotation
}

// DeliveryRow is one event's delivery to the endpoint.
type DeliveryRow struct {
	EventID       string
	EventType     string
	Status        string
	Attempts      int
	LastStatus    int
	LastError     string
	LastAttemptAt *time.Time
	NextAttemptAt *time.Time
	CreatedAt     time.Time
}

// AttemptRow is one HTTP request of a delivery.
type AttemptRow struct {
	EventID    string
	EventType  string
	Attempt    int
	StartedAt  time.Time
	LatencyMS  int64
	StatusCode int
	Error      string
}

// FacesView lists (or searches) an application's Facial IDs.
type FacesView struct {
	Chrome     Chrome
	App        AppHeader
	Query      string
	Faces      []FaceRow
	NextCursor string
	Total      int  // faces in the collection
	Scanned    int  // faces looked at by a search
	Truncated  bool // the search stopped before the oldest face
}

// FaceRow is one Facial ID in a list.
type FaceRow struct {
	FacialID   string
	ExternalID string
	Payload    string // compact JSON, shortened
	EnrolledAt time.Time
	LastAuthAt *time.Time
}

// FaceView is one Facial ID.
type FaceView struct {
	Chrome Chrome
	App    AppHeader
	Face   FaceDetail
}

// FaceDetail is what is known of one Facial ID (never its template).
type FaceDetail struct {
	FacialID      string
	ExternalID    string
	Payload       string // indented JSON
	EnrolledAt    time.Time
	LastAuthAt    *time.Time
	HasPIN        bool
	Images        int
	ConsentID     string
	ConsentKind   string
	ConsentAt     time.Time
	NoticeVersion int
	NoticeLocale  string
	NoticeSHA256  string
	NoticeTitle   string
	NoticeText    string
	ConsentMethod string
}

// AnalyticsView shows an application's widget outcomes per day.
type AnalyticsView struct {
	Chrome      Chrome
	App         AppHeader
	Days        int
	DayChoices  []int
	Enrollments Chart
	Auths       Chart
	Checks      Chart // liveness and recognition failures per day
	Failures    Chart
	Totals      []Total
	// SuccessRate is the share of started sessions that succeeded,
	// formatted ("87%"), or "none yet".
	SuccessRate string
	// Refused counts attempts refused before a session started, by what
	// refused them.
	Refused []Total
}

// Total is a sum over the period.
type Total struct {
	Label string
	Value int
}

// MembersView lists an organization's members and pending invitations.
type MembersView struct {
	Chrome      Chrome
	Org         OrgLink // Role is the account's own
	Members     []MemberRow
	Invitations []InvitationRow // pending
	Self        string          // the account's ID
	Owners      int             // how many members are owners
	InviteEmail string          // an invitation just made…
	InviteLink  string          // …and its link, shown once
	Form        MemberForm
}

// MemberForm holds the values of the invitation form.
type MemberForm struct {
	Email string
	Role  string
}

// InvitationRow is one pending invitation.
type InvitationRow struct {
	ID        string
	Email     string
	Role      string
	InvitedBy string
	ExpiresAt time.Time
}

// InvitationView is the page an invitation link opens.
type InvitationView struct {
	Chrome    Chrome
	PreCSRF   string // for the new-account form
	Token     string
	OrgName   string
	Email     string // the invited address
	Role      string
	InvitedBy string
	ExpiresAt time.Time
	// SignedInAs is the signed-in account's email ("" when nobody is).
	SignedInAs string
}

// CanManage reports whether the account may add and change members.
func (v MembersView) CanManage() bool {
	return v.Org.Role == likeness.OrgOwner || v.Org.Role == likeness.OrgAdmin
}

// SoleOwner reports whether m is the organization's only owner, whom
// nobody may remove or demote.
func (v MembersView) SoleOwner(m MemberRow) bool { return m.Role == likeness.OrgOwner && v.Owners == 1 }

// MemberRow is one member.
type MemberRow struct {
	UserID   string
	Email    string
	Role     string
	JoinedAt time.Time
}

// AuditView is an organization's audit trail with its verification.
type AuditView struct {
	Chrome   Chrome
	Org      OrgLink
	Entries  []AuditRow // newest first
	Count    int        // entries in the chain
	Verified bool
	Problems []string
	Filter   AuditFilterForm
	Actions  []string // the actions the trail holds, for the filter
	Actors   []Choice // who may be chosen in the filter
	Older    string   // the query of the next (older) page; "" when none
	Newer    bool     // this is not the newest page
	Query    string   // the filter as a query string (export links)
}

// AuditFilterForm holds the audit page's filter as typed.
type AuditFilterForm struct {
	Action string
	Actor  string
	From   string // YYYY-MM-DD
	To     string // YYYY-MM-DD, inclusive
}

// Any reports whether a filter is set.
func (f AuditFilterForm) Any() bool { return f != AuditFilterForm{} }

// Choice is one option of a select.
type Choice struct {
	Value string
	Label string
}

// AuditRow is one audit entry, in words.
type AuditRow struct {
	Seq       int64
	At        time.Time
	Actor     string // who acted, in words (an email, an API key…)
	ActorID   string // as recorded, e.g. "console:usr_…"
	Action    string
	App       string // the application's name; "" for none
	AppURL    string // "" when it no longer exists
	Target    string // what was acted on, in words where known
	TargetURL string // "" when there is no page for it
	Details   []Field
}

// Field is one named value.
type Field struct {
	Name  string
	Value string
}

// PrivacyView is the self-service privacy page before the person verified.
type PrivacyView struct {
	Chrome   Chrome
	PreCSRF  string
	AppName  string
	PublicID string
	Failed   string // why the last verification failed; the same text for every failure
}

// PrivacyMeView is the privacy page of a verified person.
type PrivacyMeView struct {
	Chrome        Chrome
	CSRF          string
	AppName       string
	PublicID      string
	FacialID      string
	EnrolledAt    time.Time
	LastAuthAt    *time.Time
	ConsentKind   string
	ConsentAt     time.Time
	NoticeVersion int
	NoticeTitle   string
	NoticeText    string
	RetentionDays int // 0 keeps it until deleted
	StoreImages   bool
	Images        int
	HasPIN        bool
	HasPayload    bool
	ExpiresAt     time.Time
}

// PrivacyDoneView confirms an erasure.
type PrivacyDoneView struct {
	Chrome  Chrome
	AppName string
}
