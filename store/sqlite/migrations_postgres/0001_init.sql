-- Likeness embedded store, first schema.
-- Times are Unix milliseconds (UTC). IDs are text. Sealed columns hold
-- AES-256-GCM values made by package crypt; their associated data names the
-- kind of value and its row, so a value copied to another row does not open.

-- Small key/value facts about the database itself (e.g. the master key check).
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value BYTEA NOT NULL
);

CREATE TABLE applications (
	id               TEXT PRIMARY KEY,              -- internal, never shown to browsers
	public_id        TEXT NOT NULL UNIQUE,          -- "app_" + 20 base62 characters
	name             TEXT NOT NULL,
	origins          TEXT NOT NULL DEFAULT '[]',    -- JSON array of normalised origins
	collection_id    TEXT NOT NULL UNIQUE,
	data_key_wrapped BYTEA,                          -- data key sealed by the master key; NULL = crypto-shredded
	created_at       BIGINT NOT NULL
);

CREATE TABLE api_keys (
	id           TEXT PRIMARY KEY,
	app_id       TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
	hash         BYTEA NOT NULL UNIQUE,  -- SHA-256 of the whole key; the key itself is never stored
	prefix       TEXT NOT NULL,         -- first characters of the key, for display and lookup
	created_at   BIGINT NOT NULL,
	last_used_at BIGINT,
	revoked_at   BIGINT
);
CREATE INDEX api_keys_prefix ON api_keys(prefix);
CREATE INDEX api_keys_app ON api_keys(app_id);

CREATE TABLE webhook_endpoints (
	id            TEXT PRIMARY KEY,
	app_id        TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
	url           TEXT NOT NULL,
	secret_sealed BYTEA NOT NULL,                  -- "whsec_…" sealed with the app's data key
	events        TEXT NOT NULL DEFAULT '[]',     -- JSON array of event types; empty = all
	enabled       BIGINT NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	created_at    BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_app ON webhook_endpoints(app_id);

CREATE TABLE notices (
	app_id     TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
	locale     TEXT NOT NULL,                -- base language, e.g. "en"
	version    BIGINT NOT NULL CHECK (version > 0),
	title      TEXT NOT NULL,
	text       TEXT NOT NULL,
	sha256     TEXT NOT NULL,                -- hex SHA-256 of title + "\n\n" + text
	created_at BIGINT NOT NULL,
	PRIMARY KEY (app_id, locale, version)
);

CREATE TABLE consent_records (
	id             TEXT PRIMARY KEY,
	app_id         TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
	kind           TEXT NOT NULL CHECK (kind IN ('widget_accept', 'site_attestation', 'api_attestation')),
	notice_version BIGINT NOT NULL DEFAULT 0,
	notice_sha256  TEXT NOT NULL DEFAULT '',
	locale         TEXT NOT NULL DEFAULT '',
	session_id     TEXT NOT NULL DEFAULT '',
	created_at     BIGINT NOT NULL
);
CREATE INDEX consent_records_app ON consent_records(app_id);

CREATE TABLE faces (
	facial_id       TEXT PRIMARY KEY,      -- UUID v4
	app_id          TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
	external_id     TEXT,                  -- the site's own ID for the person, if given
	payload_sealed  BYTEA,                  -- JSON payload sealed with the app's data key; NULL when absent
	consent_id      TEXT NOT NULL REFERENCES consent_records(id),
	template_sealed BYTEA NOT NULL,         -- float32 LE template sealed with the app's data key
	enrolled_at     BIGINT NOT NULL,
	last_auth_at    BIGINT
);
CREATE INDEX faces_app ON faces(app_id);
CREATE INDEX faces_app_external ON faces(app_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX faces_consent ON faces(consent_id);

CREATE TABLE signing_keys (
	kid                TEXT PRIMARY KEY,   -- RFC 7638 JWK thumbprint
	alg                TEXT NOT NULL,      -- "ES256"
	private_key_sealed BYTEA NOT NULL,      -- PKCS #8 sealed with the master key
	created_at         BIGINT NOT NULL,
	retired_at         BIGINT
);
