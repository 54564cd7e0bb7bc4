package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

// The webhook outbox. Events are written by emitTx in the transaction of the
// change they report; a delivery worker (package webhooks) leases due
// deliveries with ClaimWebhookTasks and records each attempt with
// CompleteWebhookTasks. A lease is the delivery's next_attempt_at moved to
// the lease's expiry: a delivery whose worker died is due again once it
// expires, so nothing stays "in progress" forever.

// Limits of the outbox.
const (
	EventIDPrefix    = "msg_" // event IDs (the webhook-id header) start with it
	eventIDLen       = 27     // base62 characters after the prefix
	maxClaim         = 500    // deliveries one claim may lease
	maxAttemptError  = 300    // characters of an attempt's error kept in the log
	maxAttemptReply  = 256    // bytes of a reply body kept in the log
	purgeBatch       = 1000   // rows deleted per transaction by PurgeWebhookLog
	endpointDisabled = "Endpoint disabled."
)

// outbox is the in-memory side of the outbox: the worker's wake-up signal.
// Its zero value is ready to use.
type outbox struct {
	once sync.Once
	wake chan struct{}
}

func (o *outbox) ch() chan struct{} {
	o.once.Do(func() { o.wake = make(chan struct{}, 1) })
	return o.wake
}

// WebhookWake returns a channel that receives a value when deliveries may
// have become due: after a transaction that wrote to the outbox. A delivery
// worker that receives from it and then claims cannot miss the deliveries
// (a claim waits for the writing transaction to end). There is one channel
// per DB, meant for one worker.
func (db *DB) WebhookWake() <-chan struct{} { return db.outbox.ch() }

// wakeWebhooks signals WebhookWake without blocking.
func (db *DB) wakeWebhooks() {
	select {
	case db.outbox.ch() <- struct{}{}:
	default:
	}
}

// emitTx writes ev to the webhook outbox inside tx, the write transaction
// making the change ev reports, so that the event exists if and only if the
// change commits. Call it once per event, from inside db.update or
// db.updateLocked (tx must be a transaction of db's writer).
//
//   - ev.Type and ev.AppID are required. ev.ID, when empty, becomes
//     EventIDPrefix + 27 random base62 characters; ev.OccurredAt, when zero,
//     the store's clock. ev.PublicID is always the application's.
//   - One delivery is written per enabled endpoint of the application
//     subscribed to ev.Type; when there is none, nothing is written.
//   - ev.ExternalID and ev.Payload are kept only when the application opts
//     in (SetWebhookIncludePayload). When ev.FacialID is set and both are
//     empty, they are read from the face's row if it still exists in tx: for
//     a deletion, call emitTx before deleting the row, or pass ExternalID.
//     EventDeleted and EventPurged never carry the payload.
//   - EventDeleted and EventPurged also erase the external ID and payload
//     from every earlier event of that Facial ID in the outbox.
//   - EventDeleted needs one of the likeness.Reason* reasons (EINVALID
//     otherwise); EventPurged gets likeness.ReasonRetention when Reason is
//     empty.
//
// Events never hold embeddings, images or scores: likeness.Event has none.
func (db *DB) emitTx(ctx context.Context, tx *sql.Tx, ev likeness.Event) error {
	if ev.Type == "" || ev.AppID == "" {
		return errors.New("sqlite: emit: an event needs a type and an application")
	}
	erasure := ev.Type == likeness.EventDeleted || ev.Type == likeness.EventPurged
	switch {
	case ev.Type == likeness.EventDeleted && !isDeletionReason(ev.Reason):
		return likeness.Errorf(likeness.EINVALID, "Unknown deletion reason.")
	case ev.Type == likeness.EventPurged && ev.Reason == "":
		ev.Reason = likeness.ReasonRetention
	}
	if erasure && ev.FacialID != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_events SET external_id = NULL, payload_sealed = NULL
			WHERE app_id = ? AND facial_id = ? AND (external_id IS NOT NULL OR payload_sealed IS NOT NULL)`,
			ev.AppID, ev.FacialID); err != nil {
			return fmt.Errorf("sqlite: emit: erase earlier events: %w", err)
		}
	}
	targets, err := subscribedEndpoints(ctx, tx, ev.AppID, ev.Type)
	if err != nil || len(targets) == 0 {
		return err
	}
	var include bool
	if err := tx.QueryRowContext(ctx, `SELECT public_id, webhook_include_payload FROM applications WHERE id = ?`, ev.AppID).
		Scan(&ev.PublicID, &include); err != nil {
		return fmt.Errorf("sqlite: emit: application: %w", err)
	}
	var ak appKey
	if include {
		if ak, err = db.appKey(ctx, ev.AppID); err != nil {
			return err
		}
		if ev.FacialID != "" && ev.ExternalID == "" && len(ev.Payload) == 0 {
			if ev.ExternalID, ev.Payload, err = faceExtrasTx(ctx, tx, ak, ev.AppID, ev.FacialID); err != nil {
				return err
			}
		}
	} else {
		ev.ExternalID, ev.Payload = "", nil
	}
	if erasure {
		ev.Payload = nil
	}
	if ev.ID == "" {
		ev.ID = EventIDPrefix + randomBase62(eventIDLen)
	}
	now := db.nowTime()
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = now
	}
	var ext sql.NullString
	if ev.ExternalID != "" {
		ext = sql.NullString{String: ev.ExternalID, Valid: true}
	}
	var sealed []byte
	if len(ev.Payload) > 0 {
		if sealed, err = crypt.Seal(ak.key, ev.Payload, eventPayloadAAD(ev.AppID, ev.ID)); err != nil {
			return err
		}
	}
	if err := insertEvent(ctx, tx, &ev, ext, sealed, now); err != nil {
		return err
	}
	for _, ep := range targets {
		if err := insertDelivery(ctx, tx, ev.ID, ep, ev.AppID, now); err != nil {
			return err
		}
	}
	db.wakeWebhooks() // the worker's claim waits for this transaction
	return nil
}

func isDeletionReason(r string) bool {
	switch r {
	case likeness.ReasonAPI, likeness.ReasonConsole, likeness.ReasonSelfService, likeness.ReasonRetention,
		likeness.ReasonAccountDeleted:
		return true
	}
	return false
}

// subscribedEndpoints returns the IDs of the application's enabled endpoints
// subscribed to an event type.
func subscribedEndpoints(ctx context.Context, tx *sql.Tx, appID, typ string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, events FROM webhook_endpoints WHERE app_id = ? AND enabled = 1
		ORDER BY created_at, id`, appID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: emit: endpoints: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id, events string
		if err := rows.Scan(&id, &events); err != nil {
			return nil, fmt.Errorf("sqlite: emit: endpoints: %w", err)
		}
		if endpointSubscribed(events, typ) {
			ids = append(ids, id)
		}
	}
	return ids, rows.Err()
}

// endpointSubscribed says whether an endpoint's events column (a JSON array, empty
// meaning every event) includes typ. EventTest is never subscribed to.
func endpointSubscribed(events, typ string) bool {
	if typ == likeness.EventTest {
		return false
	}
	if events == "[]" || events == "" {
		return true
	}
	var list []string
	if err := json.Unmarshal([]byte(events), &list); err != nil {
		return false
	}
	return len(list) == 0 || slices.Contains(list, typ)
}

// faceExtrasTx returns a face's external ID and decrypted payload, or
// nothing when the face is not (or no longer) in tx.
func faceExtrasTx(ctx context.Context, tx *sql.Tx, ak appKey, appID, facialID string) (string, json.RawMessage, error) {
	var (
		ext    sql.NullString
		sealed []byte
	)
	err := tx.QueryRowContext(ctx, `SELECT external_id, payload_sealed FROM faces WHERE app_id = ? AND facial_id = ?`,
		appID, facialID).Scan(&ext, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("sqlite: emit: face: %w", err)
	}
	if sealed == nil {
		return ext.String, nil, nil
	}
	p, err := crypt.Open(ak.key, sealed, payloadAAD(appID, facialID))
	if err != nil {
		return "", nil, fmt.Errorf("sqlite: emit: face %s payload: %w", facialID, err)
	}
	return ext.String, p, nil
}

func insertEvent(ctx context.Context, tx *sql.Tx, ev *likeness.Event, ext sql.NullString, payload []byte, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO webhook_events
		(id, app_id, public_id, type, facial_id, consent_id, reason, external_id, payload_sealed, occurred_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.ID, ev.AppID, ev.PublicID, ev.Type, ev.FacialID, ev.ConsentID, ev.Reason, ext, payload,
		ms(ev.OccurredAt), ms(now))
	if err != nil {
		return fmt.Errorf("sqlite: emit: insert event: %w", err)
	}
	return nil
}

func insertDelivery(ctx context.Context, tx *sql.Tx, eventID, endpointID, appID string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries
		(event_id, endpoint_id, app_id, status, next_attempt_at, created_at, updated_at)
		VALUES (?, ?, ?, 'pending', ?, ?, ?)`, eventID, endpointID, appID, ms(now), ms(now), ms(now))
	if err != nil {
		return fmt.Errorf("sqlite: emit: insert delivery: %w", err)
	}
	return nil
}

func eventPayloadAAD(appID, eventID string) []byte {
	return crypt.AAD("webhook-event-payload", appID, eventID)
}

// claimed is a leased delivery as read, before its secrets are opened.
type claimed struct {
	task       likeness.WebhookTask
	ext        sql.NullString
	payload    []byte
	secret     []byte
	prevSecret []byte
	prevExpiry sql.NullInt64
}

// ClaimWebhookTasks leases up to limit deliveries that are due at now (to
// enabled endpoints), soonest due first, until leaseUntil: until then no
// other claim returns them; after it, if no result was recorded, they are
// due again. Each task counts as one more attempt and carries the event, the
// endpoint's URL and its secrets (current first, then the previous one
// during a rotation).
func (db *DB) ClaimWebhookTasks(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*likeness.WebhookTask, error) {
	limit = min(max(limit, 1), maxClaim)
	lease := randomBase62(20)
	var cs []*claimed
	err := db.update(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT d.id, d.attempts, e.id, e.type, e.app_id, e.public_id, e.facial_id,
			e.consent_id, e.reason, e.external_id, e.payload_sealed, e.occurred_at,
			p.id, p.url, p.secret_sealed, p.prev_secret_sealed, p.prev_secret_expires_at
			FROM webhook_deliveries d
			JOIN webhook_events e ON e.id = d.event_id
			JOIN webhook_endpoints p ON p.id = d.endpoint_id
			WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND p.enabled = 1
			ORDER BY d.next_attempt_at, d.id LIMIT ?`+db.skipLocked("d"), ms(now), limit)
		if err != nil {
			return fmt.Errorf("sqlite: claim webhooks: %w", err)
		}
		for rows.Next() {
			c := &claimed{}
			t := &c.task
			var occurred int64
			if err := rows.Scan(&t.DeliveryID, &t.Attempt, &t.Event.ID, &t.Event.Type, &t.Event.AppID, &t.Event.PublicID,
				&t.Event.FacialID, &t.Event.ConsentID, &t.Event.Reason, &c.ext, &c.payload, &occurred,
				&t.EndpointID, &t.URL, &c.secret, &c.prevSecret, &c.prevExpiry); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: claim webhooks: %w", err)
			}
			t.Event.OccurredAt = fromMS(occurred)
			t.Attempt++
			t.Lease = lease
			cs = append(cs, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: claim webhooks: %w", err)
		}
		if len(cs) == 0 {
			return nil
		}
		args := []any{lease, ms(leaseUntil), ms(now)}
		for _, c := range cs {
			args = append(args, c.task.DeliveryID)
		}
		_, err = tx.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, lease = ?,
			next_attempt_at = ?, updated_at = ? WHERE id IN (`+outboxMarks(len(cs))+`)`, args...)
		if err != nil {
			return fmt.Errorf("sqlite: claim webhooks: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	tasks := make([]*likeness.WebhookTask, 0, len(cs))
	var broken []*likeness.WebhookResult
	for _, c := range cs {
		if err := db.openClaimed(ctx, c, now); err != nil {
			// The endpoint's secret cannot be opened (its application's data
			// key is gone): the delivery can never be signed.
			broken = append(broken, &likeness.WebhookResult{Task: &c.task, StartedAt: now,
				Error: "The endpoint's secret cannot be read."})
			continue
		}
		tasks = append(tasks, &c.task)
	}
	if len(broken) > 0 {
		if _, err := db.CompleteWebhookTasks(ctx, broken); err != nil {
			return nil, err
		}
	}
	return tasks, nil
}

// openClaimed decrypts a claimed delivery's secrets and payload.
func (db *DB) openClaimed(ctx context.Context, c *claimed, now time.Time) error {
	t := &c.task
	ak, err := db.appKey(ctx, t.Event.AppID)
	if err != nil {
		return err
	}
	secret, err := crypt.Open(ak.key, c.secret, webhookAAD(t.Event.AppID, t.EndpointID))
	if err != nil {
		return err
	}
	t.Secrets = []string{string(secret)}
	if c.prevSecret != nil && c.prevExpiry.Valid && c.prevExpiry.Int64 > ms(now) {
		if prev, err := crypt.Open(ak.key, c.prevSecret, prevSecretAAD(t.Event.AppID, t.EndpointID)); err == nil {
			t.Secrets = append(t.Secrets, string(prev))
		}
	}
	t.Event.ExternalID = c.ext.String
	if c.payload != nil {
		// A payload that does not open is left out rather than blocking
		// the delivery.
		if p, err := crypt.Open(ak.key, c.payload, eventPayloadAAD(t.Event.AppID, t.Event.ID)); err == nil {
			t.Event.Payload = p
		}
	}
	return nil
}

// CompleteWebhookTasks records the outcomes of attempts, in one transaction:
// each attempt goes to the delivery log, and the delivery becomes succeeded,
// pending again (due at RetryAt) or failed. A result whose lease is no longer
// the delivery's (it was re-sent, or its endpoint disabled, meanwhile) is
// logged but changes nothing else. The endpoint's failure streak is updated,
// and the endpoint disabled when a result asks for it (Disable) or when it
// has been failing since DisableIfFailingBefore or earlier; disabling fails
// its pending deliveries. It returns the endpoints it disabled.
func (db *DB) CompleteWebhookTasks(ctx context.Context, results []*likeness.WebhookResult) ([]likeness.WebhookDisabled, error) {
	if len(results) == 0 {
		return nil, nil
	}
	now := db.nowTime()
	var disabled []likeness.WebhookDisabled
	err := db.update(ctx, func(tx *sql.Tx) error {
		disabled = disabled[:0]
		for _, r := range results {
			d, err := db.completeTx(ctx, tx, r, now)
			if err != nil {
				return err
			}
			if d != nil {
				disabled = append(disabled, *d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return disabled, nil
}

func (db *DB) completeTx(ctx context.Context, tx *sql.Tx, r *likeness.WebhookResult, now time.Time) (*likeness.WebhookDisabled, error) {
	t := r.Task
	errText := truncate(strings.ToValidUTF8(r.Error, "?"), maxAttemptError)
	reply := clipUTF8(r.Response, maxAttemptReply)
	started := r.StartedAt
	if started.IsZero() {
		started = now
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts
		(delivery_id, endpoint_id, attempt, started_at, latency_ms, status_code, error, response)
		SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = ?)`,
		t.DeliveryID, t.EndpointID, t.Attempt, ms(started), r.Latency.Milliseconds(), r.StatusCode, errText, reply,
		t.DeliveryID); err != nil {
		return nil, fmt.Errorf("sqlite: webhook attempt: %w", err)
	}
	status, next := likeness.DeliveryFailed, sql.NullInt64{}
	switch {
	case r.Succeeded:
		status, errText = likeness.DeliverySucceeded, ""
	case !r.RetryAt.IsZero():
		status, next = likeness.DeliveryPending, sql.NullInt64{Int64: ms(r.RetryAt), Valid: true}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, lease = NULL,
		last_attempt_at = ?, last_status = ?, last_error = ?, updated_at = ?
		WHERE id = ? AND lease = ? AND status = 'pending'`,
		status, next, ms(started), r.StatusCode, errText, ms(now), t.DeliveryID, t.Lease); err != nil {
		return nil, fmt.Errorf("sqlite: webhook delivery: %w", err)
	}
	if r.Succeeded {
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL
			WHERE id = ? AND failing_since IS NOT NULL`, t.EndpointID); err != nil {
			return nil, fmt.Errorf("sqlite: webhook endpoint: %w", err)
		}
		return nil, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = ?
		WHERE id = ? AND failing_since IS NULL`, ms(started), t.EndpointID); err != nil {
		return nil, fmt.Errorf("sqlite: webhook endpoint: %w", err)
	}
	reason := r.Disable
	if reason == "" && !r.DisableIfFailingBefore.IsZero() {
		var since sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT failing_since FROM webhook_endpoints WHERE id = ? AND enabled = 1`,
			t.EndpointID).Scan(&since)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("sqlite: webhook endpoint: %w", err)
		}
		if since.Valid && since.Int64 <= ms(r.DisableIfFailingBefore) {
			reason = "Every delivery attempt has failed since " + fromMS(since.Int64).Format(time.RFC3339) + "."
		}
	}
	if reason == "" {
		return nil, nil
	}
	ok, err := db.disableEndpointTx(likeness.WithActor(ctx, auditActorWebhooks), tx, t.EndpointID, reason, now)
	if err != nil || !ok {
		return nil, err
	}
	return &likeness.WebhookDisabled{AppID: t.Event.AppID, EndpointID: t.EndpointID, Reason: reason}, nil
}

// disableEndpointTx disables an enabled endpoint, fails its pending
// deliveries (they stay in the log and can be re-sent) and audits it, all in
// tx. It reports whether the endpoint was enabled.
func (db *DB) disableEndpointTx(ctx context.Context, tx *sql.Tx, endpointID, reason string, now time.Time) (bool, error) {
	appID, ok, err := failEndpointTx(ctx, tx, endpointID, reason, now)
	if err != nil || !ok {
		return false, err
	}
	return true, db.auditWebhookTx(ctx, tx, AuditWebhookDisabled, appID, endpointID, map[string]any{"reason": reason})
}

// failEndpointTx disables an enabled endpoint and fails its pending
// deliveries. It returns the endpoint's application and whether it was
// enabled.
func failEndpointTx(ctx context.Context, tx *sql.Tx, endpointID, reason string, now time.Time) (string, bool, error) {
	var appID string
	err := tx.QueryRowContext(ctx, `UPDATE webhook_endpoints SET enabled = 0, disabled_at = ?, disabled_reason = ?,
		updated_at = ? WHERE id = ? AND enabled = 1 RETURNING app_id`, ms(now), reason, ms(now), endpointID).Scan(&appID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("sqlite: disable webhook endpoint: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL,
		lease = NULL, last_error = ?, updated_at = ? WHERE endpoint_id = ? AND status = 'pending'`,
		endpointDisabled, ms(now), endpointID); err != nil {
		return "", false, fmt.Errorf("sqlite: disable webhook endpoint: %w", err)
	}
	return appID, true, nil
}

// NextWebhookDue returns when the soonest pending delivery to an enabled
// endpoint is due (or, while leased, when its lease expires); ok is false
// when there is none.
func (db *DB) NextWebhookDue(ctx context.Context) (due time.Time, ok bool, err error) {
	var next int64
	err = db.r.QueryRowContext(ctx, `SELECT d.next_attempt_at FROM webhook_deliveries d
		JOIN webhook_endpoints p ON p.id = d.endpoint_id AND p.enabled = 1
		WHERE d.status = 'pending' ORDER BY d.next_attempt_at LIMIT 1`).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: next webhook: %w", err)
	}
	return fromMS(next), true, nil
}

// PurgeWebhookLog deletes delivery attempts started before before, finished
// deliveries last changed before it, and the events left with no delivery
// that were written before it; it also forgets previous secrets whose
// rotation period is over. Pending deliveries and their events are kept. It
// returns the number of rows deleted, and works in small transactions.
func (db *DB) PurgeWebhookLog(ctx context.Context, before time.Time) (int64, error) {
	cut := ms(before)
	stmts := []string{
		`DELETE FROM webhook_attempts WHERE id IN (SELECT id FROM webhook_attempts WHERE started_at < ? LIMIT ?)`,
		`DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
			WHERE status <> 'pending' AND updated_at < ? LIMIT ?)`,
		`DELETE FROM webhook_events WHERE id IN (SELECT e.id FROM webhook_events e WHERE e.created_at < ?
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) LIMIT ?)`,
	}
	var total int64
	for _, q := range stmts {
		for {
			var n int64
			err := db.update(ctx, func(tx *sql.Tx) error {
				res, err := tx.ExecContext(ctx, q, cut, purgeBatch)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return total, fmt.Errorf("sqlite: purge webhook log: %w", err)
			}
			total += n
			if n < purgeBatch {
				break
			}
		}
	}
	err := db.update(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET prev_secret_sealed = NULL, prev_secret_expires_at = NULL
			WHERE prev_secret_expires_at IS NOT NULL AND prev_secret_expires_at <= ?`, ms(db.nowTime()))
		return err
	})
	if err != nil {
		return total, fmt.Errorf("sqlite: purge webhook secrets: %w", err)
	}
	return total, nil
}

// outboxMarks returns "?, ?, …" with n marks.
func outboxMarks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// clipUTF8 returns at most n bytes of s, cut at a rune boundary, as
// valid UTF-8.
func clipUTF8(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
