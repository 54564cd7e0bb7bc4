package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/likeness/likeness"
)

// APIStore is what the REST API needs of the store, beyond the services in
// Config.
type APIStore interface {
	// Authenticate resolves an API key. EUNAUTHORIZED for any bad key.
	Authenticate(ctx context.Context, key string) (*likeness.Principal, error)
	Collection(ctx context.Context, appID string) (*likeness.Collection, error)
	UpdateCollection(ctx context.Context, appID string, p likeness.CollectionPatch) (*likeness.Collection, error)
	ListFaces(ctx context.Context, appID, externalID, cursor string, limit int) (*likeness.FaceListing, error)
	UpdateFace(ctx context.Context, appID, facialID string, p likeness.FacePatch) (*likeness.Face, error)
	DeleteFacesByExternalID(ctx context.Context, appID, externalID, reason string) (int, error)
	FaceExtras(ctx context.Context, appID, facialID string) (*likeness.FaceExtras, error)
	ConsentRecord(ctx context.Context, appID, id string) (*likeness.ConsentRecord, error)
	SetPIN(ctx context.Context, appID, facialID, pin string) error
	ListAPIKeys(ctx context.Context, appID string) ([]*likeness.APIKey, error)
	CreateKey(ctx context.Context, appID, role string) (*likeness.APIKey, string, error)
	RevokeKey(ctx context.Context, appID, keyID string) error
	AuditEntries(ctx context.Context, orgID string, afterSeq int64, limit int) ([]likeness.AuditEntry, error)
	VerifyAudit(ctx context.Context, orgID string) (int, []likeness.AuditProblem, error)
	ExportApp(ctx context.Context, appID string) (*likeness.Export, error)
	AddUsage(ctx context.Context, recs []likeness.UsageRecord) error
	Usage(ctx context.Context, appID string, since time.Time) ([]likeness.UsageRecord, error)
	// Organization deletion (api_org.go).
	Organization(ctx context.Context, orgID string) (*likeness.Organization, error)
	ExportOrg(ctx context.Context, orgID string) (*likeness.AccountExport, error)
	DeleteOrg(ctx context.Context, orgID string) (*likeness.OrgDeletion, error)
	Audit(ctx context.Context, e likeness.AuditEntry) error
}

// API key roles.
const (
	roleOwner  = "owner"
	roleMember = "member"
)

// maxAPIBody bounds a REST request: up to five images, base64-encoded.
const maxAPIBody = "40M"

func (s *Server) apiRoutes(e *echo.Echo) {
	// Middleware goes on each route, not on groups: a group's middleware
	// would also answer unknown paths (as a 401 instead of a 404).
	limit := middleware.BodyLimit(maxAPIBody)
	auth := s.apiAuth(bearerKey)
	e.GET("/v1/openapi.json", s.handleOpenAPI)
	routes := []apiRoute{
		{http.MethodGet, "/v1/application", s.handleGetApplication, false},
		{http.MethodGet, "/v1/collections/:cid", s.handleGetCollection, false},
		{http.MethodPatch, "/v1/collections/:cid", s.handlePatchCollection, false},
		{http.MethodPost, "/v1/collections/:cid/faces", s.handleEnrollFace, false},
		{http.MethodGet, "/v1/collections/:cid/faces", s.handleListFaces, false},
		{http.MethodDelete, "/v1/collections/:cid/faces", s.handleDeleteByExternalID, false},
		{http.MethodGet, "/v1/collections/:cid/faces/:fid", s.handleGetFace, false},
		{http.MethodPatch, "/v1/collections/:cid/faces/:fid", s.handlePatchFace, false},
		{http.MethodDelete, "/v1/collections/:cid/faces/:fid", s.handleDeleteFace, false},
		{http.MethodPost, "/v1/collections/:cid/search", s.handleSearch, false},
		{http.MethodPost, "/v1/collections/:cid/identify", s.handleIdentify, false},
		{http.MethodPost, "/v1/verify", s.handleVerify, false},
		{http.MethodPost, "/v1/liveness", s.handleLiveness, false},
		{http.MethodPost, "/v1/age", s.handleAge, false},
		{http.MethodGet, "/v1/settings", s.handleGetSettings, false},
		{http.MethodPatch, "/v1/settings", s.handlePatchSettings, true},
		{http.MethodGet, "/v1/keys", s.handleListKeys, false},
		{http.MethodPost, "/v1/keys", s.handleCreateKey, true},
		{http.MethodDelete, "/v1/keys/:kid", s.handleRevokeKey, true},
		{http.MethodGet, "/v1/audit", s.handleAudit, true},
		{http.MethodGet, "/v1/export", s.handleExport, false},
		{http.MethodGet, "/v1/usage", s.handleUsage, false},
		{http.MethodGet, "/v1/organization/export", s.handleExportOrg, true}, // api_org.go
		{http.MethodDelete, "/v1/organization", s.handleDeleteOrg, true},
	}
	if s.cfg.Webhooks != nil {
		routes = append(routes, s.webhookRoutes()...)
	}
	for _, r := range routes {
		mw := []echo.MiddlewareFunc{limit, auth}
		if r.owner {
			mw = append(mw, ownerOnly)
		}
		e.Add(r.method, r.path, r.h, mw...)
	}

	// FACEIO-compatible endpoints: the key comes as a parameter, as FACEIO's
	// do, and errors take FACEIO's shape from the first middleware on.
	fio := []echo.MiddlewareFunc{markFioStyle, middleware.BodyLimit("64K"), s.apiAuth(paramKey)}
	for path, h := range map[string]echo.HandlerFunc{
		"/deletefacialid":     s.handleFioDelete,
		"/setfacialidpayload": s.handleFioPayload,
		"/setfacialidpincode": s.handleFioPIN,
		"/checkfacialid":      s.handleFioCheck,
	} {
		e.GET(path, h, fio...)
		e.POST(path, h, fio...)
	}
}

// apiRoute is one REST route; owner routes need an owner key.
type apiRoute struct {
	method, path string
	h            echo.HandlerFunc
	owner        bool
}

// bearerKey reads "Authorization: Bearer <key>".
func bearerKey(c echo.Context) string {
	h := c.Request().Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// principal returns the authenticated caller.
func principal(c echo.Context) *likeness.Principal {
	p, _ := c.Get("principal").(*likeness.Principal)
	return p
}

var errNoKey = likeness.Errorf(likeness.EUNAUTHORIZED, "An API key is required: Authorization: Bearer <key>.")

// apiAuth authenticates the key, applies the key's rate limit, names the
// actor for the audit trail and records usage.
func (s *Server) apiAuth(key func(echo.Context) string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := s.cfg.Now()
			c.Response().Header().Set("Cache-Control", "no-store")
			k := key(c)
			if k == "" {
				if c.Get(fioStyle) != nil {
					return likeness.Errorf(likeness.EUNAUTHORIZED, "Missing key parameter: your application's API key.")
				}
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="likeness"`)
				return errNoKey
			}
			p, err := s.cfg.API.Authenticate(c.Request().Context(), k)
			if err != nil {
				if likeness.ErrorCode(err) == likeness.EUNAUTHORIZED && c.Get(fioStyle) == nil {
					c.Response().Header().Set("WWW-Authenticate", `Bearer realm="likeness", error="invalid_token"`)
				}
				return err
			}
			if wait, ok := s.limits.allow(p.Key.ID); !ok {
				c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				s.usage.add(p, c.Path(), http.StatusTooManyRequests, 0)
				return likeness.Errorf(likeness.ERATELIMIT, "Too many requests for this API key; retry later.")
			}
			c.Set("principal", p)
			ctx := likeness.WithActor(c.Request().Context(), "api:"+p.Key.ID)
			c.SetRequest(c.Request().WithContext(ctx))
			err = next(c)
			status := c.Response().Status
			if err != nil {
				status = httpStatus[likeness.ErrorCode(err)]
				if status == 0 {
					status = http.StatusInternalServerError
				}
			}
			s.usage.add(p, c.Path(), status, s.cfg.Now().Sub(start))
			return err
		}
	}
}

// ownerOnly admits owner keys only.
func ownerOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if p := principal(c); p == nil || p.Key.Role != roleOwner {
			return likeness.Errorf(likeness.EFORBIDDEN, "This needs an owner API key.")
		}
		return next(c)
	}
}

// keyLimits is a token bucket per API key.
type keyLimits struct {
	mu    sync.Mutex
	rps   rate.Limit
	burst int
	now   func() time.Time
	keys  map[string]*keyBucket
}

type keyBucket struct {
	lim  *rate.Limiter
	used time.Time
}

func newKeyLimits(rps float64, burst int, now func() time.Time) *keyLimits {
	return &keyLimits{rps: rate.Limit(rps), burst: burst, now: now, keys: map[string]*keyBucket{}}
}

// allow takes a token for the key, or says how long to wait for one.
func (l *keyLimits) allow(key string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.keys[key]
	if b == nil {
		if len(l.keys) > 10000 { // forget idle keys rather than grow without bound
			for k, v := range l.keys {
				if now.Sub(v.used) > 10*time.Minute {
					delete(l.keys, k)
				}
			}
		}
		b = &keyBucket{lim: rate.NewLimiter(l.rps, l.burst)}
		l.keys[key] = b
	}
	b.used = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// usageLog aggregates API usage in memory and writes it out periodically.
type usageLog struct {
	mu   sync.Mutex
	recs map[usageKey]*likeness.UsageRecord
	now  func() time.Time
}

type usageKey struct {
	key, route string
	day        int64
	status     int
}

func (u *usageLog) add(p *likeness.Principal, route string, status int, d time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	day := u.now().UTC().Truncate(24 * time.Hour)
	k := usageKey{p.Key.ID, route, day.Unix(), status}
	r := u.recs[k]
	if r == nil {
		r = &likeness.UsageRecord{KeyID: p.Key.ID, AppID: p.App.ID, Day: day, Route: route, Status: status}
		u.recs[k] = r
	}
	r.Count++
	r.TotalMs += d.Milliseconds()
}

// writeUsage stores what has been aggregated; on failure the records are
// kept for the next attempt.
func (s *Server) writeUsage(ctx context.Context) error {
	recs := s.usage.take()
	if len(recs) == 0 {
		return nil
	}
	err := s.cfg.API.AddUsage(ctx, recs)
	if err != nil {
		s.usage.restore(recs)
	}
	return err
}

// restore adds records back after a failed write.
func (u *usageLog) restore(recs []likeness.UsageRecord) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range recs {
		k := usageKey{r.KeyID, r.Route, r.Day.Unix(), r.Status}
		if cur := u.recs[k]; cur != nil {
			cur.Count += r.Count
			cur.TotalMs += r.TotalMs
		} else {
			rc := r
			u.recs[k] = &rc
		}
	}
}

// take returns and forgets what has been aggregated.
func (u *usageLog) take() []likeness.UsageRecord {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]likeness.UsageRecord, 0, len(u.recs))
	for _, r := range u.recs {
		out = append(out, *r)
	}
	clear(u.recs)
	return out
}

// flushUsage writes usage every interval until ctx ends, then once more.
func (s *Server) flushUsage(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.writeUsage(wctx); err != nil {
			s.log.Warn("usage records", "err", err)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
	}
}

// decodeImageField decodes a base64 image (standard or URL alphabet, with or
// without a data: URL prefix).
func decodeImageField(name, v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "data:") {
		if i := strings.Index(v, ","); i > 0 {
			v = v[i+1:]
		}
	}
	if v == "" {
		return nil, likeness.Errorf(likeness.EINVALID, "%s is required (a base64-encoded JPEG, PNG or WebP).", name)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return b, nil
		}
	}
	return nil, likeness.Errorf(likeness.EINVALID, "%s is not valid base64.", name)
}

// bindJSON decodes a JSON body strictly into v.
func bindJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(ct, "application/json") {
		return likeness.Errorf(likeness.EUNSUPPORTED, "The body must be JSON (Content-Type: application/json).")
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if strings.Contains(err.Error(), "request body too large") {
			return likeness.Errorf(likeness.ETOOLARGE, "The request body is too large.")
		}
		return likeness.Wrap(err, likeness.EINVALID, "The body is not valid JSON for this request: "+jsonProblem(err))
	}
	// One JSON value and nothing after it but white space: trailing data
	// would be a second request smuggled past the checks of the first.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil && strings.Contains(err.Error(), "request body too large") {
			return likeness.Errorf(likeness.ETOOLARGE, "The request body is too large.")
		}
		return likeness.Errorf(likeness.EINVALID, "The body is not valid JSON for this request: data after the JSON object.")
	}
	return nil
}

// jsonProblem describes a JSON decoding error without internal detail.
func jsonProblem(err error) string {
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &ute):
		return "field " + strconv.Quote(ute.Field) + " has the wrong type."
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ") + "."
	default:
		return "malformed JSON."
	}
}
