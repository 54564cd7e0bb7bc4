// Package web serves the pages people see in a browser: the console where
// site owners manage their organizations and applications (/console), and
// the self-service privacy page where end users see and erase their own
// Facial ID (/privacy/{publicId}). Pages are rendered on the server with the
// templ components of package templates; the only scripts are this server's
// own (static/console.js and, on the privacy page, /fio.js), and no page
// makes a request to a third party.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

// AccountStore keeps console accounts, organizations and sessions.
type AccountStore interface {
	// SessionKey derives a key for one purpose from the master key.
	SessionKey(purpose string) ([]byte, error)
	CountUsers(ctx context.Context) (int, error)
	// CreateAccount makes an account owning a new organization. ECONFLICT
	// when the email is taken, EINVALID for bad input.
	CreateAccount(ctx context.Context, in likeness.AccountCreate) (*likeness.User, *likeness.Membership, error)
	// User and UserByEmail: ENOTFOUND when there is none.
	User(ctx context.Context, id string) (*likeness.User, error)
	UserByEmail(ctx context.Context, email string) (*likeness.User, error)
	// SetPassword ends every session of the account (raises its version).
	SetPassword(ctx context.Context, userID, passwordHash string) (*likeness.User, error)
	RecordSignIn(ctx context.Context, userID string) error
	Memberships(ctx context.Context, userID string) ([]*likeness.Membership, error)
	Members(ctx context.Context, orgID string) ([]*likeness.Membership, error)
	// Membership: ENOTFOUND when the account is not a member.
	Membership(ctx context.Context, orgID, userID string) (*likeness.Membership, error)
	// CreateInvitation invites an address (never looking it up) and returns
	// the link's secret. EINVALID for a bad email or role.
	CreateInvitation(ctx context.Context, orgID, email, role, invitedBy string, ttl time.Duration) (*likeness.Invitation, string, error)
	Invitations(ctx context.Context, orgID string) ([]*likeness.Invitation, error)
	// InvitationByToken: ENOTFOUND for an unknown, used or expired link.
	InvitationByToken(ctx context.Context, token string) (*likeness.Invitation, error)
	// AcceptInvitation: EFORBIDDEN for another address, ECONFLICT for a member.
	AcceptInvitation(ctx context.Context, token, userID string) (*likeness.Membership, error)
	// AcceptInvitationNewAccount: ECONFLICT when the address has an account.
	AcceptInvitationNewAccount(ctx context.Context, token, passwordHash string) (*likeness.User, *likeness.Membership, error)
	// RevokeInvitation: ENOTFOUND when the organization has no such one.
	RevokeInvitation(ctx context.Context, orgID, id string) error
	// SetMemberRole and RemoveMember: EPRECONDITION for the last owner.
	SetMemberRole(ctx context.Context, orgID, userID, role string) error
	RemoveMember(ctx context.Context, orgID, userID string) error
	ClaimOrg(ctx context.Context, orgID, userID string) (bool, error)
	RevokeSession(ctx context.Context, sid string, until time.Time) error
	SessionRevoked(ctx context.Context, sid string) (bool, error)
}

// AppStore manages applications and their settings, keys and notices.
type AppStore interface {
	CreateApp(ctx context.Context, in likeness.AppCreate) (*likeness.Application, *likeness.AppSecrets, error)
	// AppByPublicID: ENOTFOUND when there is none.
	AppByPublicID(ctx context.Context, publicID string) (*likeness.Application, error)
	OrgApps(ctx context.Context, orgID string) ([]*likeness.Application, error)
	RenameApp(ctx context.Context, appID, name string) (*likeness.Application, error)
	// DeleteApp crypto-shreds the application's data.
	DeleteApp(ctx context.Context, appID string) error
	UpdateOrigins(ctx context.Context, appID string, origins []string) (*likeness.Application, error)
	Collection(ctx context.Context, appID string) (*likeness.Collection, error)
	UpdateCollection(ctx context.Context, appID string, p likeness.CollectionPatch) (*likeness.Collection, error)
	Settings(ctx context.Context, appID string) (*likeness.Settings, error)
	UpdateSettings(ctx context.Context, appID string, s likeness.Settings) (*likeness.Settings, error)
	// GallerySize returns the number of faces identification searches.
	GallerySize(ctx context.Context, appID string) (int, error)
	ListAPIKeys(ctx context.Context, appID string) ([]*likeness.APIKey, error)
	// CreateKey returns the key once.
	CreateKey(ctx context.Context, appID, role string) (*likeness.APIKey, string, error)
	RevokeKey(ctx context.Context, appID, keyID string) error
	Notices(ctx context.Context, appID string) ([]*likeness.Notice, error)
	// Notice: ENOTFOUND when there is no such version.
	Notice(ctx context.Context, appID, locale string, version int) (*likeness.Notice, error)
	Outcomes(ctx context.Context, appID string, since time.Time) ([]likeness.OutcomeCount, error)
	AuditEntries(ctx context.Context, orgID string, afterSeq int64, limit int) ([]likeness.AuditEntry, error)
	// AuditSearch returns the entries that match, newest first. EINVALID.
	AuditSearch(ctx context.Context, orgID string, f likeness.AuditFilter) ([]likeness.AuditEntry, error)
	// AuditActions lists the actions the organization's trail holds.
	AuditActions(ctx context.Context, orgID string) ([]string, error)
	VerifyAudit(ctx context.Context, orgID string) (int, []likeness.AuditProblem, error)
	// Audit records an action that changes nothing else.
	Audit(ctx context.Context, e likeness.AuditEntry) error
}

// FaceStore reads and erases Facial IDs.
type FaceStore interface {
	ListFaces(ctx context.Context, appID, externalID, cursor string, limit int) (*likeness.FaceListing, error)
	Face(ctx context.Context, appID, facialID string) (*likeness.Face, error)
	FaceExtras(ctx context.Context, appID, facialID string) (*likeness.FaceExtras, error)
	DeleteFace(ctx context.Context, appID, facialID, reason string) error
	ConsentRecord(ctx context.Context, appID, id string) (*likeness.ConsentRecord, error)
	// UseToken records a result token's ID; ECONFLICT when it was used.
	UseToken(ctx context.Context, jti string, exp time.Time) error
	// VerificationKeys are the keys that verify tokens: the current one and
	// those retired after retiredAfter.
	VerificationKeys(ctx context.Context, retiredAfter time.Time) ([]likeness.VerificationKey, error)
}

// Store is everything the pages need of the store; store/sqlite.DB
// implements it.
type Store interface {
	AccountStore
	AppStore
	FaceStore
	likeness.WebhookService
	DeletionStore // account.go
	SupportStore  // support.go
	likeness.Throttles
}

// Notices edits consent notices; consent.Service implements it.
type Notices interface {
	// SetNotice stores a new version when the text changed. EINVALID.
	SetNotice(ctx context.Context, app *likeness.Application, locale, title, text string) (*likeness.Notice, error)
	CurrentNotice(ctx context.Context, app *likeness.Application, locale string) (*likeness.Notice, error)
}

// Sign-up modes.
const (
	SignUpFirst = "first" // only while no account exists (the default)
	SignUpOpen  = "open"  // anyone may make an account and organization
	SignUpOff   = "off"   // accounts are made by owners and `likeness admin create`
)

// Config wires a Handler. Store, Notices and PublicURL are required.
type Config struct {
	Store   Store
	Notices Notices
	// PublicURL is the URL browsers use; it is the issuer of result tokens
	// and the only origin forms are accepted from (besides the request's own).
	PublicURL string
	Logger    *slog.Logger
	Now       func() time.Time
	SignUp    string // SignUpFirst, SignUpOpen or SignUpOff; "" means SignUpFirst
	// DemoOrgID, when set, is the organization of `serve --demo`'s
	// application: the first account signed up becomes its owner.
	DemoOrgID string
	Password  PasswordParams // zero: DefaultPasswordParams
	// Hashing runs password hashing (argon2id); the same pool as the
	// store's PIN hashing. nil means a pool of the handler's own.
	Hashing *crypt.Pool
	// ClientIP returns the client address used for rate limits; nil uses the
	// connection's peer address (no header is trusted).
	ClientIP func(r *http.Request) string
	// ProductVersion is shown in the footer; optional.
	ProductVersion string
	// WebhookAllowPrivate is the server's --webhook-allow-private: without
	// it the console refuses webhook URLs on private or loopback addresses.
	WebhookAllowPrivate bool
}

// Handler serves the console and the privacy page.
type Handler struct {
	cfg        Config
	store      Store
	log        *slog.Logger
	now        func() time.Time
	issuer     string // PublicURL without a trailing slash
	origin     string // PublicURL's origin
	consoleKey []byte
	privacyKey []byte
	csrfKey    []byte
	onceKey    []byte // once.go
	pw         *passwords
	assets     *assets
	limits     *throttles // limit.go
}

// New builds a Handler: it derives its keys from the store's master key and
// hashes the embedded assets.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Notices == nil {
		return nil, errors.New("web: Store and Notices are required")
	}
	issuer := strings.TrimRight(cfg.PublicURL, "/")
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("web: PublicURL %q must be an absolute http(s) URL", cfg.PublicURL)
	}
	origin, err := likeness.NormalizeOrigin(u.Scheme + "://" + u.Host)
	if err != nil {
		return nil, fmt.Errorf("web: PublicURL: %w", err)
	}
	switch cfg.SignUp {
	case "":
		cfg.SignUp = SignUpFirst
	case SignUpFirst, SignUpOpen, SignUpOff:
	default:
		return nil, fmt.Errorf("web: SignUp must be %s, %s or %s", SignUpFirst, SignUpOpen, SignUpOff)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = peerIP
	}
	h := &Handler{cfg: cfg, store: cfg.Store, log: cfg.Logger, now: cfg.Now, issuer: issuer, origin: origin}
	for _, k := range []struct {
		dst     *[]byte
		purpose string
	}{{&h.consoleKey, "console-session"}, {&h.privacyKey, "privacy-session"}, {&h.csrfKey, "csrf"}, {&h.onceKey, "console-once-secret"}} {
		if *k.dst, err = cfg.Store.SessionKey(k.purpose); err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
	}
	if cfg.Hashing == nil {
		cfg.Hashing = crypt.NewPool(0, 0)
	}
	if h.pw, err = newPasswords(cfg.Password, cfg.Hashing); err != nil {
		return nil, err
	}
	if h.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if h.limits, err = newThrottles(cfg.Store, cfg.Now); err != nil {
		return nil, err
	}
	return h, nil
}

// peerIP is the connection's peer address without its port.
func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// maxForm bounds a form post: a notice text is at most 20 000 characters.
const maxForm = "256K"

// Mount registers the console, privacy and asset routes on e. Every page
// route renders its errors as an HTML page (errors.go).
func (h *Handler) Mount(e *echo.Echo) {
	common := []echo.MiddlewareFunc{h.pages, middleware.BodyLimit(maxForm), h.sameOrigin}
	page := func(method, path string, fn echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
		e.Add(method, path, fn, append(append([]echo.MiddlewareFunc{}, common...), mw...)...)
	}
	signedIn := []echo.MiddlewareFunc{h.requireUser, h.checkCSRF}

	e.GET("/static/:name", h.handleAsset)

	page(http.MethodGet, "/console", h.handleHome)
	page(http.MethodGet, "/console/signin", h.handleSignInPage)
	page(http.MethodPost, "/console/signin", h.handleSignIn, h.checkPreCSRF)
	page(http.MethodGet, "/console/signup", h.handleSignUpPage)
	page(http.MethodPost, "/console/signup", h.handleSignUp, h.checkPreCSRF)
	page(http.MethodPost, "/console/signout", h.handleSignOut, signedIn...)
	page(http.MethodGet, "/console/account", h.handleAccount, signedIn...)
	page(http.MethodPost, "/console/account/password", h.handlePassword, signedIn...)
	page(http.MethodGet, "/console/account/delete", h.handleDeleteAccountPage, signedIn...) // account.go
	page(http.MethodPost, "/console/account/delete", h.handleDeleteAccount, signedIn...)
	page(http.MethodGet, "/console/support", h.handleSupportList, signedIn...) // support.go: operators only

	page(http.MethodGet, "/console/apps", h.handleApps, signedIn...)
	page(http.MethodPost, "/console/apps", h.handleCreateApp, signedIn...)

	app := func(method, path string, role string, fn appHandler) {
		page(method, "/console/apps/:app"+path, h.withApp(role, fn), signedIn...)
	}
	app(http.MethodGet, "", likeness.OrgViewer, h.handleApp)
	app(http.MethodPost, "/rename", likeness.OrgAdmin, h.handleRename)
	app(http.MethodPost, "/origins", likeness.OrgAdmin, h.handleOrigins)
	app(http.MethodPost, "/collection", likeness.OrgAdmin, h.handleCollection)
	app(http.MethodPost, "/delete", likeness.OrgOwner, h.handleDeleteApp)
	app(http.MethodGet, "/consent", likeness.OrgViewer, h.handleConsent)
	app(http.MethodPost, "/consent", likeness.OrgAdmin, h.handleSetNotice)
	app(http.MethodGet, "/security", likeness.OrgViewer, h.handleSecurity)
	app(http.MethodPost, "/security", likeness.OrgAdmin, h.handleSetSecurity)
	app(http.MethodGet, "/keys", likeness.OrgViewer, h.handleKeys)
	app(http.MethodPost, "/keys", likeness.OrgAdmin, h.handleCreateKey)
	app(http.MethodPost, "/keys/:kid/revoke", likeness.OrgAdmin, h.handleRevokeKey)
	app(http.MethodGet, "/webhooks", likeness.OrgViewer, h.handleWebhooks)
	app(http.MethodPost, "/webhooks", likeness.OrgAdmin, h.handleCreateWebhook)
	app(http.MethodPost, "/webhooks/payload", likeness.OrgAdmin, h.handleWebhookPayload)
	app(http.MethodGet, "/webhooks/:eid", likeness.OrgViewer, h.handleWebhook)
	app(http.MethodPost, "/webhooks/:eid", likeness.OrgAdmin, h.handleUpdateWebhook)
	app(http.MethodPost, "/webhooks/:eid/rotate", likeness.OrgAdmin, h.handleRotateWebhook)
	app(http.MethodPost, "/webhooks/:eid/test", likeness.OrgAdmin, h.handleTestWebhook)
	app(http.MethodPost, "/webhooks/:eid/resend", likeness.OrgAdmin, h.handleResendWebhook)
	app(http.MethodPost, "/webhooks/:eid/delete", likeness.OrgAdmin, h.handleDeleteWebhook)
	app(http.MethodGet, "/faces", likeness.OrgViewer, h.handleFaces)
	app(http.MethodGet, "/faces/:fid", likeness.OrgViewer, h.handleFace)
	app(http.MethodPost, "/faces/:fid/delete", likeness.OrgAdmin, h.handleDeleteFace)
	app(http.MethodGet, "/analytics", likeness.OrgViewer, h.handleAnalytics)

	org := func(method, path string, role string, fn orgHandler) {
		page(method, "/console/orgs/:org"+path, h.withOrg(role, fn), signedIn...)
	}
	org(http.MethodGet, "/members", likeness.OrgViewer, h.handleMembers)
	org(http.MethodPost, "/members", likeness.OrgAdmin, h.handleInvite)
	org(http.MethodPost, "/invitations/:iid/revoke", likeness.OrgAdmin, h.handleRevokeInvitation)
	org(http.MethodPost, "/members/:uid/role", likeness.OrgAdmin, h.handleMemberRole)
	org(http.MethodPost, "/members/:uid/remove", likeness.OrgAdmin, h.handleRemoveMember)
	org(http.MethodGet, "/audit", likeness.OrgOwner, h.handleAudit) // audit.go
	org(http.MethodGet, "/audit/export", likeness.OrgOwner, h.handleAuditExport)
	org(http.MethodGet, "/export", likeness.OrgOwner, h.handleExportOrg) // account.go
	org(http.MethodGet, "/delete", likeness.OrgOwner, h.handleDeleteOrgPage)
	org(http.MethodPost, "/delete", likeness.OrgOwner, h.handleDeleteOrg)
	org(http.MethodGet, "/support", likeness.OrgOwner, h.handleSupport) // support.go
	org(http.MethodPost, "/support", likeness.OrgOwner, h.handleGrantSupport)
	org(http.MethodPost, "/support/:gid/revoke", likeness.OrgOwner, h.handleRevokeSupport)

	// An invitation link carries its secret in the query string, which is
	// never logged.
	page(http.MethodGet, "/console/invitation", h.handleInvitation)
	page(http.MethodPost, "/console/invitation/accept", h.handleAcceptInvitation, signedIn...)
	page(http.MethodPost, "/console/invitation/account", h.handleInvitationAccount, h.checkPreCSRF)

	page(http.MethodGet, "/privacy/:pid", h.handlePrivacy)
	page(http.MethodPost, "/privacy/:pid/session", h.handlePrivacySession, h.checkPreCSRF)
	page(http.MethodGet, "/privacy/:pid/export", h.handlePrivacyExport)
	page(http.MethodPost, "/privacy/:pid/delete", h.handlePrivacyDelete)
	page(http.MethodPost, "/privacy/:pid/signout", h.handlePrivacySignOut)

	// Unknown pages under /console and /privacy get an HTML 404.
	for _, p := range []string{"/console/*", "/privacy/*"} {
		page(http.MethodGet, p, func(echo.Context) error { return errNotFound })
	}
}

var errNotFound = likeness.Errorf(likeness.ENOTFOUND, "This page does not exist.")

// handleHome sends visitors to their applications (or to sign in).
func (h *Handler) handleHome(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/console/apps")
}
