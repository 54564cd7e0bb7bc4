-- Webhooks: endpoint state, the transactional outbox and the delivery log.
-- An event is written with the change that caused it, in the same
-- transaction, together with one delivery per subscribed enabled endpoint.
-- A delivery worker leases due deliveries (next_attempt_at becomes the lease
-- expiry, so a delivery in flight when the process dies is simply due again
-- once the lease runs out), attempts them and records each attempt.

-- Whether events carry the Facial ID's external ID and payload (opt-in).
ALTER TABLE applications ADD COLUMN webhook_include_payload INTEGER NOT NULL DEFAULT 0
	CHECK (webhook_include_payload IN (0, 1));

ALTER TABLE webhook_endpoints ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
-- During a rotation the previous secret signs too, until it expires.
ALTER TABLE webhook_endpoints ADD COLUMN prev_secret_sealed BLOB;
ALTER TABLE webhook_endpoints ADD COLUMN prev_secret_expires_at INTEGER;
-- Time of the first failed attempt since the last successful one.
ALTER TABLE webhook_endpoints ADD COLUMN failing_since INTEGER;
ALTER TABLE webhook_endpoints ADD COLUMN disabled_at INTEGER;
ALTER TABLE webhook_endpoints ADD COLUMN disabled_reason TEXT NOT NULL DEFAULT '';

-- The outbox: one row per event that at least one endpoint was to receive.
CREATE TABLE webhook_events (
	id             TEXT PRIMARY KEY,             -- "msg_" + 27 base62 characters: the webhook-id
	app_id         TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
	public_id      TEXT NOT NULL,
	type           TEXT NOT NULL,
	facial_id      TEXT NOT NULL DEFAULT '',
	consent_id     TEXT NOT NULL DEFAULT '',
	reason         TEXT NOT NULL DEFAULT '',
	external_id    TEXT,                         -- only when the application opts in; erased with the face
	payload_sealed BLOB,                         -- likewise; sealed with the application's data key
	occurred_at    INTEGER NOT NULL,
	created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_events_face ON webhook_events(app_id, facial_id);
CREATE INDEX webhook_events_created ON webhook_events(created_at);

-- One event for one endpoint: the unit that is leased and retried.
CREATE TABLE webhook_deliveries (
	id              INTEGER PRIMARY KEY,
	event_id        TEXT NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
	endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
	app_id          TEXT NOT NULL,
	status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,   -- attempts started
	next_attempt_at INTEGER,                      -- pending: when due, or when the current lease expires
	lease           TEXT,                         -- the current lease, while an attempt is in flight
	last_attempt_at INTEGER,
	last_status     INTEGER NOT NULL DEFAULT 0,   -- HTTP status of the last attempt; 0 = no reply
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	UNIQUE (event_id, endpoint_id)
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries(updated_at) WHERE status <> 'pending';

-- The delivery log: one row per HTTP attempt; purged after the retention period.
CREATE TABLE webhook_attempts (
	id          INTEGER PRIMARY KEY,
	delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
	endpoint_id TEXT NOT NULL,
	attempt     INTEGER NOT NULL,
	started_at  INTEGER NOT NULL,
	latency_ms  INTEGER NOT NULL,
	status_code INTEGER NOT NULL DEFAULT 0,       -- 0 = no reply
	error       TEXT NOT NULL DEFAULT '',         -- short
	response    TEXT NOT NULL DEFAULT ''          -- the first bytes of the reply body
) STRICT;
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(endpoint_id, id);
CREATE INDEX webhook_attempts_started ON webhook_attempts(started_at);
