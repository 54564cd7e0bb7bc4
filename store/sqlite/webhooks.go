package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

// Limits and periods of webhook endpoints.
const (
	MaxWebhookEndpoints   = 20             // per application
	SecretRotationOverlap = 24 * time.Hour // the previous secret signs this long after a rotation
	defaultLogLimit       = 50
	maxLogLimit           = 500
)

// Audit actions of webhook changes (likeness.AuditEntry.Action). The store
// writes them in the transaction of the change.
const (
	AuditWebhookCreated  = "webhook.endpoint_created"
	AuditWebhookUpdated  = "webhook.endpoint_updated"
	AuditWebhookRotated  = "webhook.secret_rotated"
	AuditWebhookDeleted  = "webhook.endpoint_deleted"
	AuditWebhookDisabled = "webhook.endpoint_disabled" // by a 410 reply or failing for days
	AuditWebhookResent   = "webhook.event_resent"
	AuditWebhookPayload  = "webhook.payload_setting"
	auditActorWebhooks   = "system:webhooks" // the delivery worker
)

var _ likeness.WebhookService = (*DB)(nil)

// auditWebhookTx appends a webhook change to the audit trail inside tx.
func (db *DB) auditWebhookTx(ctx context.Context, tx *sql.Tx, action, appID, target string, details map[string]any) error {
	var raw json.RawMessage
	if len(details) > 0 {
		raw, _ = json.Marshal(details)
	}
	return db.auditTx(ctx, tx, likeness.AuditEntry{Action: action, AppID: appID, Target: target, Details: raw})
}

// urlHost returns the host of a checked URL, for the audit trail (a URL's
// path and query may hold a token).
func urlHost(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Host
	}
	return ""
}

const endpointColumns = `id, app_id, url, events, enabled, created_at, updated_at, disabled_at, disabled_reason,
	prev_secret_expires_at, secret_sealed`

// scanEndpoint reads endpointColumns; the sealed secret is returned apart.
func (db *DB) scanEndpoint(row interface{ Scan(...any) error }) (*likeness.WebhookEndpoint, []byte, error) {
	var (
		ep                likeness.WebhookEndpoint
		events            string
		created, updated  int64
		disabled, prevExp sql.NullInt64
		sealed            []byte
	)
	if err := row.Scan(&ep.ID, &ep.AppID, &ep.URL, &events, &ep.Enabled, &created, &updated, &disabled,
		&ep.DisabledReason, &prevExp, &sealed); err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal([]byte(events), &ep.Events); err != nil {
		return nil, nil, fmt.Errorf("sqlite: webhook endpoint %s events: %w", ep.ID, err)
	}
	if len(ep.Events) == 0 {
		ep.Events = nil
	}
	ep.CreatedAt, ep.UpdatedAt = fromMS(created), fromMS(max(updated, created))
	ep.DisabledAt = nullTime(disabled)
	if prevExp.Valid && prevExp.Int64 > ms(db.nowTime()) {
		ep.PreviousSecretExpiresAt = nullTime(prevExp)
	}
	return &ep, sealed, nil
}

// WebhookEndpoints returns the application's webhook endpoints with their
// current secrets decrypted, oldest first.
func (db *DB) WebhookEndpoints(ctx context.Context, appID string) ([]*likeness.WebhookEndpoint, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE app_id = ? ORDER BY created_at, id`, appID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhook endpoints: %w", err)
	}
	defer rows.Close()
	var (
		eps    []*likeness.WebhookEndpoint
		sealed [][]byte
	)
	for rows.Next() {
		ep, s, err := db.scanEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: webhook endpoints: %w", err)
		}
		eps = append(eps, ep)
		sealed = append(sealed, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: webhook endpoints: %w", err)
	}
	if len(eps) == 0 {
		return nil, nil
	}
	ak, err := db.appKey(ctx, appID)
	if err != nil {
		return nil, err
	}
	for i, ep := range eps {
		secret, err := crypt.Open(ak.key, sealed[i], webhookAAD(appID, ep.ID))
		if err != nil {
			return nil, fmt.Errorf("sqlite: webhook endpoint %s secret: %w", ep.ID, err)
		}
		ep.Secret = string(secret)
	}
	return eps, nil
}

// WebhookEndpoint returns one of the application's endpoints, without its
// secret. ENOTFOUND when the application has no such endpoint.
func (db *DB) WebhookEndpoint(ctx context.Context, appID, endpointID string) (*likeness.WebhookEndpoint, error) {
	ep, _, err := db.scanEndpoint(db.r.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE id = ? AND app_id = ?`, endpointID, appID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errEndpointNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhook endpoint: %w", err)
	}
	return ep, nil
}

func errEndpointNotFound() error {
	return likeness.Errorf(likeness.ENOTFOUND, "Webhook endpoint not found.")
}

// CreateWebhookEndpoint adds an enabled endpoint to the application and
// returns it with its new secret, which is not shown again. EINVALID for a
// bad URL or event type, ECONFLICT when the application already has
// MaxWebhookEndpoints, ENOTFOUND when it does not exist.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, appID string, in likeness.WebhookEndpointCreate) (*likeness.WebhookEndpoint, error) {
	hookURL, err := checkWebhookURL(in.URL)
	if err != nil {
		return nil, err
	}
	events, err := normalizeEventTypes(in.Events)
	if err != nil {
		return nil, err
	}
	ak, err := db.appKey(ctx, appID)
	if err != nil {
		return nil, err
	}
	now := db.nowTime()
	ep := &likeness.WebhookEndpoint{ID: uuid.NewString(), AppID: appID, URL: hookURL, Secret: newWebhookSecret(),
		Events: events, Enabled: true, CreatedAt: now, UpdatedAt: now}
	sealed, err := crypt.Seal(ak.key, []byte(ep.Secret), webhookAAD(appID, ep.ID))
	if err != nil {
		return nil, err
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM webhook_endpoints WHERE app_id = ?`, appID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxWebhookEndpoints {
			return likeness.Errorf(likeness.ECONFLICT, "An application has at most %d webhook endpoints.", MaxWebhookEndpoints)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_endpoints
			(id, app_id, url, secret_sealed, events, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?)`,
			ep.ID, appID, ep.URL, sealed, eventsJSON(events), ms(now), ms(now))
		if isForeignKeyViolation(err) {
			return likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
		}
		if err != nil {
			return err
		}
		return db.auditWebhookTx(ctx, tx, AuditWebhookCreated, appID, ep.ID,
			map[string]any{"host": urlHost(ep.URL), "events": eventsJSONList(events)})
	})
	if err != nil {
		if likeness.ErrorCode(err) != likeness.EINTERNAL {
			return nil, err
		}
		return nil, fmt.Errorf("sqlite: create webhook endpoint: %w", err)
	}
	return ep, nil
}

// UpdateWebhookEndpoint changes the endpoint's fields that are set in in and
// returns the endpoint, without its secret. A new URL or enabling clears the
// failure streak; enabling clears DisabledAt and DisabledReason; disabling
// fails the endpoint's pending deliveries. EINVALID for a bad URL or event
// type, ENOTFOUND when the application has no such endpoint.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, appID, endpointID string, in likeness.WebhookEndpointUpdate) (*likeness.WebhookEndpoint, error) {
	var (
		hookURL string
		events  []string
		err     error
	)
	if in.URL != nil {
		if hookURL, err = checkWebhookURL(*in.URL); err != nil {
			return nil, err
		}
	}
	if in.Events != nil {
		if events, err = normalizeEventTypes(*in.Events); err != nil {
			return nil, err
		}
	}
	now := db.nowTime()
	err = db.update(ctx, func(tx *sql.Tx) error {
		var enabled bool
		err := tx.QueryRowContext(ctx, `SELECT enabled FROM webhook_endpoints WHERE id = ? AND app_id = ?`,
			endpointID, appID).Scan(&enabled)
		if errors.Is(err, sql.ErrNoRows) {
			return errEndpointNotFound()
		}
		if err != nil {
			return err
		}
		if in.URL != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET url = ?, failing_since = NULL, updated_at = ?
				WHERE id = ?`, hookURL, ms(now), endpointID); err != nil {
				return err
			}
		}
		if in.Events != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET events = ?, updated_at = ? WHERE id = ?`,
				eventsJSON(events), ms(now), endpointID); err != nil {
				return err
			}
		}
		details := map[string]any{}
		if in.URL != nil {
			details["host"] = urlHost(hookURL)
		}
		if in.Events != nil {
			details["events"] = eventsJSONList(events)
		}
		if in.Enabled != nil {
			details["enabled"] = *in.Enabled
		}
		if err := db.auditWebhookTx(ctx, tx, AuditWebhookUpdated, appID, endpointID, details); err != nil {
			return err
		}
		switch {
		case in.Enabled == nil || *in.Enabled == enabled:
		case *in.Enabled:
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET enabled = 1, disabled_at = NULL,
				disabled_reason = '', failing_since = NULL, updated_at = ? WHERE id = ?`, ms(now), endpointID); err != nil {
				return err
			}
		default:
			if _, _, err := failEndpointTx(ctx, tx, endpointID, "Disabled by its owner.", now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if likeness.ErrorCode(err) != likeness.EINTERNAL {
			return nil, err
		}
		return nil, fmt.Errorf("sqlite: update webhook endpoint: %w", err)
	}
	return db.WebhookEndpoint(ctx, appID, endpointID)
}

// RotateWebhookSecret gives the endpoint a new secret and returns the
// endpoint with it (it is not shown again). The previous secret keeps
// signing every delivery, beside the new one, for SecretRotationOverlap; a
// second rotation within that period drops the oldest secret. ENOTFOUND when
// the application has no such endpoint.
func (db *DB) RotateWebhookSecret(ctx context.Context, appID, endpointID string) (*likeness.WebhookEndpoint, error) {
	ak, err := db.appKey(ctx, appID)
	if likeness.ErrorCode(err) == likeness.ENOTFOUND {
		return nil, errEndpointNotFound()
	}
	if err != nil {
		return nil, err
	}
	secret := newWebhookSecret()
	sealed, err := crypt.Seal(ak.key, []byte(secret), webhookAAD(appID, endpointID))
	if err != nil {
		return nil, err
	}
	now := db.nowTime()
	err = db.update(ctx, func(tx *sql.Tx) error {
		var cur []byte
		err := tx.QueryRowContext(ctx, `SELECT secret_sealed FROM webhook_endpoints WHERE id = ? AND app_id = ?`,
			endpointID, appID).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return errEndpointNotFound()
		}
		if err != nil {
			return err
		}
		old, err := crypt.Open(ak.key, cur, webhookAAD(appID, endpointID))
		if err != nil {
			return fmt.Errorf("endpoint %s secret: %w", endpointID, err)
		}
		prev, err := crypt.Seal(ak.key, old, prevSecretAAD(appID, endpointID))
		clear(old)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET secret_sealed = ?, prev_secret_sealed = ?,
			prev_secret_expires_at = ?, updated_at = ? WHERE id = ?`,
			sealed, prev, ms(now.Add(SecretRotationOverlap)), ms(now), endpointID)
		if err != nil {
			return err
		}
		return db.auditWebhookTx(ctx, tx, AuditWebhookRotated, appID, endpointID, nil)
	})
	if err != nil {
		if likeness.ErrorCode(err) != likeness.EINTERNAL {
			return nil, err
		}
		return nil, fmt.Errorf("sqlite: rotate webhook secret: %w", err)
	}
	ep, err := db.WebhookEndpoint(ctx, appID, endpointID)
	if err != nil {
		return nil, err
	}
	ep.Secret = secret
	return ep, nil
}

// DeleteWebhookEndpoint deletes the endpoint with its deliveries and their
// log, and the events no other endpoint is to receive. ENOTFOUND when the
// application has no such endpoint.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, appID, endpointID string) error {
	return db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = ? AND app_id = ?`, endpointID, appID)
		if err != nil {
			return fmt.Errorf("sqlite: delete webhook endpoint: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errEndpointNotFound()
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE app_id = ?
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)`, appID); err != nil {
			return fmt.Errorf("sqlite: delete webhook endpoint: %w", err)
		}
		return db.auditWebhookTx(ctx, tx, AuditWebhookDeleted, appID, endpointID, nil)
	})
}

// checkEndpoint returns ENOTFOUND unless the application has the endpoint,
// and says whether it is enabled.
func checkEndpoint(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, appID, endpointID string) (bool, error) {
	var enabled bool
	err := q.QueryRowContext(ctx, `SELECT enabled FROM webhook_endpoints WHERE id = ? AND app_id = ?`,
		endpointID, appID).Scan(&enabled)
	if errors.Is(err, sql.ErrNoRows) {
		return false, errEndpointNotFound()
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: webhook endpoint: %w", err)
	}
	return enabled, nil
}

func logLimit(n int) int {
	if n <= 0 {
		return defaultLogLimit
	}
	return min(n, maxLogLimit)
}

// WebhookDeliveries returns the endpoint's deliveries selected by q, newest
// first. ENOTFOUND when the application has no such endpoint.
func (db *DB) WebhookDeliveries(ctx context.Context, appID, endpointID string, q likeness.WebhookLogQuery) ([]*likeness.WebhookDelivery, error) {
	if _, err := checkEndpoint(ctx, db.r, appID, endpointID); err != nil {
		return nil, err
	}
	query := `SELECT d.id, d.app_id, d.endpoint_id, d.event_id, e.type, d.status, d.attempts, d.next_attempt_at,
		d.last_attempt_at, d.last_status, d.last_error, d.created_at, d.updated_at
		FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
		WHERE d.endpoint_id = ? AND d.app_id = ?`
	args := []any{endpointID, appID}
	if q.EventID != "" {
		query += ` AND d.event_id = ?`
		args = append(args, q.EventID)
	}
	if q.Before > 0 {
		query += ` AND d.id < ?`
		args = append(args, q.Before)
	}
	query += ` ORDER BY d.id DESC LIMIT ?`
	args = append(args, logLimit(q.Limit))
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhook deliveries: %w", err)
	}
	defer rows.Close()
	out := []*likeness.WebhookDelivery{}
	for rows.Next() {
		var (
			d                likeness.WebhookDelivery
			next, last       sql.NullInt64
			created, updated int64
		)
		if err := rows.Scan(&d.ID, &d.AppID, &d.EndpointID, &d.EventID, &d.EventType, &d.Status, &d.Attempts, &next,
			&last, &d.LastStatusCode, &d.LastError, &created, &updated); err != nil {
			return nil, fmt.Errorf("sqlite: webhook deliveries: %w", err)
		}
		d.NextAttemptAt, d.LastAttemptAt = nullTime(next), nullTime(last)
		d.CreatedAt, d.UpdatedAt = fromMS(created), fromMS(updated)
		out = append(out, &d)
	}
	return out, rows.Err()
}

// WebhookAttempts returns the endpoint's delivery attempts selected by q,
// newest first. ENOTFOUND when the application has no such endpoint.
func (db *DB) WebhookAttempts(ctx context.Context, appID, endpointID string, q likeness.WebhookLogQuery) ([]*likeness.WebhookAttempt, error) {
	if _, err := checkEndpoint(ctx, db.r, appID, endpointID); err != nil {
		return nil, err
	}
	query := `SELECT a.id, a.delivery_id, a.endpoint_id, d.event_id, e.type, a.attempt, a.started_at, a.latency_ms,
		a.status_code, a.error, a.response
		FROM webhook_attempts a
		JOIN webhook_deliveries d ON d.id = a.delivery_id
		JOIN webhook_events e ON e.id = d.event_id
		WHERE a.endpoint_id = ? AND d.app_id = ?`
	args := []any{endpointID, appID}
	if q.EventID != "" {
		query += ` AND d.event_id = ?`
		args = append(args, q.EventID)
	}
	if q.Before > 0 {
		query += ` AND a.id < ?`
		args = append(args, q.Before)
	}
	query += ` ORDER BY a.id DESC LIMIT ?`
	args = append(args, logLimit(q.Limit))
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhook attempts: %w", err)
	}
	defer rows.Close()
	out := []*likeness.WebhookAttempt{}
	for rows.Next() {
		var (
			a         likeness.WebhookAttempt
			started   int64
			latencyMS int64
		)
		if err := rows.Scan(&a.ID, &a.DeliveryID, &a.EndpointID, &a.EventID, &a.EventType, &a.Attempt, &started,
			&latencyMS, &a.StatusCode, &a.Error, &a.Response); err != nil {
			return nil, fmt.Errorf("sqlite: webhook attempts: %w", err)
		}
		a.StartedAt, a.Latency = fromMS(started), time.Duration(latencyMS)*time.Millisecond
		out = append(out, &a)
	}
	return out, rows.Err()
}

// ResendWebhookEvent delivers one of the application's events to one of its
// endpoints again, due now, with the same webhook-id, whether or not the
// endpoint had it or is subscribed to its type. A delivery that exists
// starts over (its retry schedule too). ENOTFOUND for an unknown endpoint or
// event (events are kept for the delivery log's retention period),
// EPRECONDITION when the endpoint is disabled.
func (db *DB) ResendWebhookEvent(ctx context.Context, appID, endpointID, eventID string) error {
	now := db.nowTime()
	err := db.update(ctx, func(tx *sql.Tx) error {
		enabled, err := checkEndpoint(ctx, tx, appID, endpointID)
		if err != nil {
			return err
		}
		if !enabled {
			return likeness.Errorf(likeness.EPRECONDITION, "The webhook endpoint is disabled.")
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM webhook_events WHERE id = ? AND app_id = ?`, eventID, appID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return likeness.Errorf(likeness.ENOTFOUND, "Event not found.")
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_deliveries
			(event_id, endpoint_id, app_id, status, next_attempt_at, created_at, updated_at)
			VALUES (?, ?, ?, 'pending', ?, ?, ?)
			ON CONFLICT (event_id, endpoint_id) DO UPDATE SET status = 'pending', attempts = 0, lease = NULL,
				next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at`,
			eventID, endpointID, appID, ms(now), ms(now), ms(now))
		if err != nil {
			return err
		}
		db.wakeWebhooks()
		return db.auditWebhookTx(ctx, tx, AuditWebhookResent, appID, endpointID, map[string]any{"eventId": eventID})
	})
	if err != nil && likeness.ErrorCode(err) == likeness.EINTERNAL {
		return fmt.Errorf("sqlite: resend webhook event: %w", err)
	}
	return err
}

// SendTestWebhook queues a likeness.EventTest event for one endpoint and
// returns its ID. ENOTFOUND when the application has no such endpoint,
// EPRECONDITION when it is disabled.
func (db *DB) SendTestWebhook(ctx context.Context, appID, endpointID string) (string, error) {
	now := db.nowTime()
	ev := likeness.Event{ID: EventIDPrefix + randomBase62(eventIDLen), Type: likeness.EventTest, AppID: appID, OccurredAt: now}
	err := db.update(ctx, func(tx *sql.Tx) error {
		enabled, err := checkEndpoint(ctx, tx, appID, endpointID)
		if err != nil {
			return err
		}
		if !enabled {
			return likeness.Errorf(likeness.EPRECONDITION, "The webhook endpoint is disabled.")
		}
		if err := tx.QueryRowContext(ctx, `SELECT public_id FROM applications WHERE id = ?`, appID).Scan(&ev.PublicID); err != nil {
			return err
		}
		if err := insertEvent(ctx, tx, &ev, sql.NullString{}, nil, now); err != nil {
			return err
		}
		if err := insertDelivery(ctx, tx, ev.ID, endpointID, appID, now); err != nil {
			return err
		}
		db.wakeWebhooks()
		return nil
	})
	if err != nil {
		if likeness.ErrorCode(err) != likeness.EINTERNAL {
			return "", err
		}
		return "", fmt.Errorf("sqlite: test webhook: %w", err)
	}
	return ev.ID, nil
}

// WebhookIncludePayload says whether the application's webhook events carry
// the Facial ID's external ID and payload. ENOTFOUND when the application
// does not exist.
func (db *DB) WebhookIncludePayload(ctx context.Context, appID string) (bool, error) {
	var on bool
	err := db.r.QueryRowContext(ctx, `SELECT webhook_include_payload FROM applications WHERE id = ?`, appID).Scan(&on)
	if errors.Is(err, sql.ErrNoRows) {
		return false, likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: webhook payload setting: %w", err)
	}
	return on, nil
}

// SetWebhookIncludePayload sets whether the application's webhook events
// carry the Facial ID's external ID and payload (off by default); it applies
// to events written from then on. ENOTFOUND when the application does not
// exist.
func (db *DB) SetWebhookIncludePayload(ctx context.Context, appID string, on bool) error {
	return db.update(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE applications SET webhook_include_payload = ? WHERE id = ?`, on, appID)
		if err != nil {
			return fmt.Errorf("sqlite: webhook payload setting: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return likeness.Errorf(likeness.ENOTFOUND, "Application not found.")
		}
		return db.auditWebhookTx(ctx, tx, AuditWebhookPayload, appID, "", map[string]any{"includePayload": on})
	})
}

// normalizeEventTypes checks event types against likeness.WebhookEventTypes
// and returns them sorted without duplicates (nil for none: every event).
func normalizeEventTypes(in []string) ([]string, error) {
	known := likeness.WebhookEventTypes()
	var out []string
	for _, t := range in {
		if !slices.Contains(known, t) {
			return nil, likeness.Errorf(likeness.EINVALID, "Unknown event type %q.", truncate(t, 60))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out, nil
}

// eventsJSONList returns events for the audit trail: never null.
func eventsJSONList(events []string) []string {
	if events == nil {
		return []string{}
	}
	return events
}

func eventsJSON(events []string) string {
	if len(events) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(events)
	return string(b)
}

func prevSecretAAD(appID, endpointID string) []byte {
	return crypt.AAD("webhook-secret-previous", appID, endpointID)
}
