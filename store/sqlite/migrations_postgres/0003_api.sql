-- The REST API and the privacy machinery: organizations, collection policy,
-- API key roles, consent attestations, stored images, PINs, the audit chain
-- and usage records.

CREATE TABLE organizations (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

-- Every existing application gets an organization of its own.
INSERT INTO organizations (id, name, created_at) SELECT 'org_' || id, name, created_at FROM applications;
ALTER TABLE applications ADD COLUMN org_id TEXT REFERENCES organizations(id);
UPDATE applications SET org_id = 'org_' || id;
CREATE INDEX applications_org ON applications(org_id);

-- Collection policy (one collection per application).
ALTER TABLE applications ADD COLUMN collection_name TEXT NOT NULL DEFAULT '';
ALTER TABLE applications ADD COLUMN retention_days BIGINT CHECK (retention_days IS NULL OR retention_days > 0);
ALTER TABLE applications ADD COLUMN store_images BIGINT NOT NULL DEFAULT 0 CHECK (store_images IN (0, 1));

-- An owner key may read the organization's audit trail and make other keys.
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'owner' CHECK (role IN ('owner', 'member'));

-- API consent attestations: how and when the site obtained consent.
ALTER TABLE consent_records ADD COLUMN method TEXT NOT NULL DEFAULT '';
ALTER TABLE consent_records ADD COLUMN obtained_at BIGINT;

ALTER TABLE faces ADD COLUMN pin_hash TEXT;   -- argon2id, PHC string format
ALTER TABLE faces ADD COLUMN updated_at BIGINT;

-- Enrollment images, kept only when the collection stores images.
CREATE TABLE face_images (
	id           TEXT PRIMARY KEY,
	facial_id    TEXT NOT NULL REFERENCES faces(facial_id) ON DELETE CASCADE,
	app_id       TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
	image_sealed BYTEA NOT NULL,                -- sealed with the app's data key
	created_at   BIGINT NOT NULL
);
CREATE INDEX face_images_face ON face_images(facial_id);

-- The audit chain: per organization, each entry's hash is an HMAC (key
-- derived from the master key, outside the database) over the entry and the
-- previous entry's hash. No foreign keys: entries outlive what they describe.
CREATE TABLE audit_events (
	org_id    TEXT NOT NULL,
	seq       BIGINT NOT NULL CHECK (seq > 0),
	at        BIGINT NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	app_id    TEXT NOT NULL DEFAULT '',
	target    TEXT NOT NULL DEFAULT '',
	details   TEXT NOT NULL DEFAULT '{}',
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL,
	PRIMARY KEY (org_id, seq)
);

-- API usage per key, day, route and status; purged after 90 days.
CREATE TABLE usage_records (
	key_id   TEXT NOT NULL,
	app_id   TEXT NOT NULL,
	day      BIGINT NOT NULL,                 -- Unix day (UTC)
	route    TEXT NOT NULL,
	status   BIGINT NOT NULL,
	count    BIGINT NOT NULL,
	total_ms BIGINT NOT NULL,
	PRIMARY KEY (key_id, day, route, status)
);
CREATE INDEX usage_records_day ON usage_records(day);
