package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

// Prefixes and sizes of generated identifiers and secrets.
const (
	PublicIDPrefix      = "app_"   // Application.PublicID starts with it
	APIKeyPrefix        = "lk_"    // API keys start with it
	WebhookSecretPrefix = "whsec_" // webhook secrets start with it
	MaxAppNameLen       = 100      // characters
	MaxOrigins          = 50       // per application
	MaxURLLen           = 2048     // bytes, for webhook URLs

	publicIDLen      = 20                     // base62 characters after the prefix
	apiKeyBytes      = 32                     // random bytes of an API key
	apiKeyLen        = len(APIKeyPrefix) + 43 // prefix + unpadded base64url of 32 bytes
	apiKeyShownLen   = len(APIKeyPrefix) + 8  // characters kept for display and lookup
	webhookSecretLen = 24                     // random bytes of a webhook secret
	keyTouchInterval = time.Minute            // last_used_at granularity
	base62           = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// APIKey is likeness.APIKey.
type APIKey = likeness.APIKey

// WebhookEndpoint is likeness.WebhookEndpoint (see webhooks.go).
type WebhookEndpoint = likeness.WebhookEndpoint

// appKey is what the store keeps in memory for an application.
type appKey struct {
	collection string
	key        []byte // data key
	wrapped    []byte // as stored, when loaded by appKey
}

// CheckAppCreate validates an application's name, origins and webhook URL
// as CreateApp does, without a database: callers check every input before
// they create anything. EINVALID.
func CheckAppCreate(in likeness.AppCreate) error {
	if _, err := checkAppName(in.Name); err != nil {
		return err
	}
	if _, err := normalizeOrigins(in.Origins); err != nil {
		return err
	}
	if strings.TrimSpace(in.WebhookURL) != "" {
		if _, err := checkWebhookURL(in.WebhookURL); err != nil {
			return err
		}
	}
	return nil
}

// CreateApp creates an application with its collection, data key, first API
// key and, when in.WebhookURL is set, first webhook endpoint. The API key and
// webhook secret are returned once: only the key's hash and the sealed secret
// are stored. EINVALID for a bad name, origin or webhook URL.
func (db *DB) CreateApp(ctx context.Context, in likeness.AppCreate) (*likeness.Application, *likeness.AppSecrets, error) {
	name, err := checkAppName(in.Name)
	if err != nil {
		return nil, nil, err
	}
	origins, err := normalizeOrigins(in.Origins)
	if err != nil {
		return nil, nil, err
	}
	var hookURL string
	if strings.TrimSpace(in.WebhookURL) != "" {
		if hookURL, err = checkWebhookURL(in.WebhookURL); err != nil {
			return nil, nil, err
		}
	}
	originsJSON, err := json.Marshal(origins)
	if err != nil {
		return nil, nil, err
	}

	app := &likeness.Application{
		ID:           uuid.NewString(),
		PublicID:     PublicIDPrefix + randomBase62(publicIDLen),
		Name:         name,
		Origins:      origins,
		CollectionID: "col_" + randomBase62(publicIDLen),
		CreatedAt:    db.nowTime(),
	}
	dataKey, err := crypt.NewDataKey()
	if err != nil {
		return nil, nil, err
	}
	wrapped, err := crypt.Seal(db.master, dataKey, dataKeyAAD(app.ID))
	if err != nil {
		return nil, nil, err
	}
	secrets := &likeness.AppSecrets{}
	key, keyRow := newAPIKey(app.ID, app.CreatedAt)
	secrets.APIKey = key
	var hookID string
	var hookSealed []byte
	if hookURL != "" {
		secrets.WebhookSecret = newWebhookSecret()
		hookID = uuid.NewString()
		if hookSealed, err = crypt.Seal(dataKey, []byte(secrets.WebhookSecret), webhookAAD(app.ID, hookID)); err != nil {
			return nil, nil, err
		}
	}

	app.OrgID = in.OrgID
	err = db.update(ctx, func(tx *sql.Tx) error {
		if app.OrgID == "" {
			app.OrgID = "org_" + randomBase62(publicIDLen)
			if _, err := tx.ExecContext(ctx, `INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)`,
				app.OrgID, app.Name, ms(app.CreatedAt)); err != nil {
				return fmt.Errorf("sqlite: insert organization: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO applications
			(id, org_id, public_id, name, origins, collection_id, collection_name, data_key_wrapped, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			app.ID, app.OrgID, app.PublicID, app.Name, string(originsJSON), app.CollectionID, app.Name, wrapped, ms(app.CreatedAt)); err != nil {
			if isForeignKeyViolation(err) {
				return likeness.Errorf(likeness.ENOTFOUND, "Organization not found.")
			}
			return fmt.Errorf("sqlite: insert application: %w", err)
		}
		if err := db.auditTx(ctx, tx, likeness.AuditEntry{OrgID: app.OrgID, Action: "application.created",
			AppID: app.ID, Target: app.PublicID}); err != nil {
			return err
		}
		if err := insertAPIKey(ctx, tx, keyRow); err != nil {
			return err
		}
		if hookURL != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_endpoints
				(id, app_id, url, secret_sealed, events, enabled, created_at) VALUES (?, ?, ?, ?, '[]', 1, ?)`,
				hookID, app.ID, hookURL, hookSealed, ms(app.CreatedAt)); err != nil {
				return fmt.Errorf("sqlite: insert webhook endpoint: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	db.mu.Lock()
	db.apps[app.ID] = appKey{collection: app.CollectionID, key: dataKey}
	db.mu.Unlock()
	db.index.created(app.CollectionID) // vectors.go
	return app, secrets, nil
}

const appColumns = `id, coalesce(org_id, ''), public_id, name, origins, collection_id, created_at`

func scanApp(row interface{ Scan(...any) error }) (*likeness.Application, error) {
	var (
		app     likeness.Application
		origins string
		created int64
	)
	if err := row.Scan(&app.ID, &app.OrgID, &app.PublicID, &app.Name, &origins, &app.CollectionID, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(origins), &app.Origins); err != nil {
		return nil, fmt.Errorf("sqlite: application %s origins: %w", app.ID, err)
	}
	app.CreatedAt = fromMS(created)
	return &app, nil
}

// AppByPublicID returns the application with that public ID. ENOTFOUND when
// there is none.
func (db *DB) AppByPublicID(ctx context.Context, publicID string) (*likeness.Application, error) {
	app, err := db.appWhere(ctx, "public_id", publicID)
	if err != nil {
		return nil, err
	}
	// The widget, the privacy page and the console find no application of
	// a deleted organization (orgs.go).
	if ok, err := db.orgInUse(ctx, app.OrgID); err != nil || !ok {
		if err == nil {
			err = likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
		}
		return nil, err
	}
	return app, nil
}

// AppByID returns the application with that internal ID. ENOTFOUND when
// there is none.
func (db *DB) AppByID(ctx context.Context, id string) (*likeness.Application, error) {
	return db.appWhere(ctx, "id", id)
}

func (db *DB) appWhere(ctx context.Context, column, value string) (*likeness.Application, error) {
	app, err := scanApp(db.r.QueryRowContext(ctx, `SELECT `+appColumns+` FROM applications WHERE `+column+` = ?`, value))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: application: %w", err)
	}
	return app, nil
}

// ListApps returns every application, oldest first.
func (db *DB) ListApps(ctx context.Context) ([]*likeness.Application, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+appColumns+` FROM applications ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list applications: %w", err)
	}
	defer rows.Close()
	var apps []*likeness.Application
	for rows.Next() {
		app, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		apps = append(apps, app)
	}
	return apps, rows.Err()
}

// VerifyAPIKey returns the application an API key belongs to and records the
// key's use (at most once a minute). Hashes are compared in constant time.
// EUNAUTHORIZED, with one message, for any key that is malformed, unknown or
// revoked.
func (db *DB) VerifyAPIKey(ctx context.Context, key string) (*likeness.Application, error) {
	app, _, err := db.verifyAPIKey(ctx, key)
	return app, err
}

// verifyAPIKey is VerifyAPIKey that also returns the key's ID.
func (db *DB) verifyAPIKey(ctx context.Context, key string) (*likeness.Application, string, error) {
	unauthorized := likeness.Errorf(likeness.EUNAUTHORIZED, "Invalid API key.")
	if len(key) != apiKeyLen || !strings.HasPrefix(key, APIKeyPrefix) {
		return nil, "", unauthorized
	}
	sum := sha256.Sum256([]byte(key))
	rows, err := db.r.QueryContext(ctx, `SELECT id, app_id, hash, last_used_at FROM api_keys
		WHERE prefix = ? AND revoked_at IS NULL`, key[:apiKeyShownLen])
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: api key: %w", err)
	}
	var (
		found    bool
		keyID    string
		appID    string
		lastUsed sql.NullInt64
	)
	for rows.Next() {
		var (
			id, app string
			hash    []byte
			used    sql.NullInt64
		)
		if err := rows.Scan(&id, &app, &hash, &used); err != nil {
			rows.Close()
			return nil, "", fmt.Errorf("sqlite: api key: %w", err)
		}
		if subtle.ConstantTimeCompare(hash, sum[:]) == 1 {
			found, keyID, appID, lastUsed = true, id, app, used
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("sqlite: api key: %w", err)
	}
	if !found {
		return nil, "", unauthorized
	}
	now := db.nowTime()
	if !lastUsed.Valid || now.Sub(fromMS(lastUsed.Int64)) >= keyTouchInterval {
		err := db.update(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, ms(now), keyID)
			return err
		})
		if err != nil {
			return nil, "", fmt.Errorf("sqlite: api key use: %w", err)
		}
	}
	app, err := db.AppByID(ctx, appID)
	return app, keyID, err
}

// CreateAPIKey adds an API key to an application and returns its description
// and the key, which is not stored and cannot be shown again. ENOTFOUND when
// the application does not exist.
func (db *DB) CreateAPIKey(ctx context.Context, appID string) (*APIKey, string, error) {
	key, row := newAPIKey(appID, db.nowTime())
	err := db.update(ctx, func(tx *sql.Tx) error { return insertAPIKey(ctx, tx, row) })
	if isForeignKeyViolation(err) {
		return nil, "", likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
	}
	if err != nil {
		return nil, "", err
	}
	return &row.APIKey, key, nil
}

// ListAPIKeys returns the application's API keys, revoked ones included,
// oldest first.
func (db *DB) ListAPIKeys(ctx context.Context, appID string) ([]*APIKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, app_id, prefix, role, created_at, last_used_at, revoked_at
		FROM api_keys WHERE app_id = ? ORDER BY created_at, id`, appID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list api keys: %w", err)
	}
	defer rows.Close()
	var keys []*APIKey
	for rows.Next() {
		var (
			k             APIKey
			created       int64
			used, revoked sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.AppID, &k.Prefix, &k.Role, &created, &used, &revoked); err != nil {
			return nil, fmt.Errorf("sqlite: list api keys: %w", err)
		}
		k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromMS(created), nullTime(used), nullTime(revoked)
		keys = append(keys, &k)
	}
	return keys, rows.Err()
}

// RevokeAPIKey revokes one of the application's API keys. ENOTFOUND when the
// application has no such key that is not already revoked.
func (db *DB) RevokeAPIKey(ctx context.Context, appID, keyID string) error {
	return db.update(ctx, func(tx *sql.Tx) error { return revokeKeyTx(ctx, tx, appID, keyID, ms(db.nowTime())) })
}

func revokeKeyTx(ctx context.Context, tx *sql.Tx, appID, keyID string, now int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ?
		WHERE id = ? AND app_id = ? AND revoked_at IS NULL`, now, keyID, appID)
	if err != nil {
		return fmt.Errorf("sqlite: revoke api key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return likeness.Errorf(likeness.ENOTFOUND, "API key not found.")
	}
	return nil
}

// appKey returns the application's collection and data key, from memory when
// possible. ENOTFOUND when the application does not exist or its data key
// has been destroyed.
//
// On PostgreSQL another replica may have destroyed or replaced the key (an
// application or organization deleted, an organization restored with new
// keys): the stored key is read every time, and the cache only saves
// unsealing it again.
func (db *DB) appKey(ctx context.Context, appID string) (appKey, error) {
	db.mu.RLock()
	ak, ok := db.apps[appID]
	db.mu.RUnlock()
	if ok && !db.postgres {
		return ak, nil
	}
	var col string
	var wrapped []byte
	err := db.r.QueryRowContext(ctx, `SELECT collection_id, data_key_wrapped FROM applications WHERE id = ?`, appID).
		Scan(&col, &wrapped)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && wrapped == nil) {
		return appKey{}, likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
	}
	if err != nil {
		return appKey{}, fmt.Errorf("sqlite: application key: %w", err)
	}
	if ok && bytes.Equal(ak.wrapped, wrapped) {
		return ak, nil
	}
	ak = appKey{collection: col, wrapped: wrapped}
	if ak.key, err = crypt.Open(db.master, wrapped, dataKeyAAD(appID)); err != nil {
		return appKey{}, fmt.Errorf("sqlite: application %s data key: %w", appID, err)
	}
	db.mu.Lock()
	if cur, ok := db.apps[appID]; ok && bytes.Equal(cur.wrapped, wrapped) { // loaded concurrently
		clear(ak.key)
		ak = cur
	} else {
		// A replaced key is not cleared: a caller may still hold it.
		db.apps[appID] = ak
	}
	db.mu.Unlock()
	return ak, nil
}

// apiKeyRow is an API key as stored.
type apiKeyRow struct {
	APIKey
	hash []byte
}

func newAPIKey(appID string, now time.Time) (string, apiKeyRow) {
	var raw [apiKeyBytes]byte
	_, _ = rand.Read(raw[:])
	key := APIKeyPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(key))
	return key, apiKeyRow{
		APIKey: APIKey{ID: uuid.NewString(), AppID: appID, Prefix: key[:apiKeyShownLen], Role: RoleOwner, CreatedAt: now},
		hash:   sum[:],
	}
}

func insertAPIKey(ctx context.Context, tx *sql.Tx, k apiKeyRow) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, app_id, hash, prefix, role, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.AppID, k.hash, k.Prefix, k.Role, ms(k.CreatedAt))
	if err != nil && !isForeignKeyViolation(err) {
		return fmt.Errorf("sqlite: insert api key: %w", err)
	}
	return err
}

func newWebhookSecret() string {
	var raw [webhookSecretLen]byte
	_, _ = rand.Read(raw[:])
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(raw[:])
}

func dataKeyAAD(appID string) []byte { return crypt.AAD("app-data-key", appID) }

func webhookAAD(appID, endpointID string) []byte {
	return crypt.AAD("webhook-secret", appID, endpointID)
}

// randomBase62 returns n random characters of base62, without modulo bias.
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:])
		for _, b := range buf {
			if b < 248 && len(out) < n { // 248 = 4 × 62
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}

func checkAppName(name string) (string, error) {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if n == 0 || n > MaxAppNameLen || !utf8.ValidString(name) {
		return "", likeness.Errorf(likeness.EINVALID, "Name must be 1 to %d characters.", MaxAppNameLen)
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		return "", likeness.Errorf(likeness.EINVALID, "Name must not contain control characters.")
	}
	return name, nil
}

func normalizeOrigins(in []string) ([]string, error) {
	if len(in) > MaxOrigins {
		return nil, likeness.Errorf(likeness.EINVALID, "At most %d origins are allowed.", MaxOrigins)
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		o, err := likeness.NormalizeOrigin(s)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out, nil
}

func checkWebhookURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	bad := likeness.Errorf(likeness.EINVALID, "Webhook URL must be an absolute http or https URL.")
	if len(s) > MaxURLLen {
		return "", bad
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.Fragment != "" {
		return "", bad
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return "", bad
	}
	if !likeness.ValidHost(strings.ToLower(u.Hostname())) {
		return "", bad
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", bad
		}
	}
	return u.String(), nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
