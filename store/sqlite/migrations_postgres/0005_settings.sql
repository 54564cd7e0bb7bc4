-- Application security policy (likeness.Settings as JSON; '{}' means the
-- defaults) and per-Facial-ID failed authentication tracking.
ALTER TABLE applications ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE faces ADD COLUMN failed_auth BIGINT NOT NULL DEFAULT 0;
ALTER TABLE faces ADD COLUMN locked_until BIGINT;
-- A keyed MAC of the PIN (key derived from the application's data key), so
-- the uniquePins setting is one indexed lookup instead of an argon2id
-- comparison with every enrolled face.
ALTER TABLE faces ADD COLUMN pin_mac TEXT;
CREATE INDEX faces_pin_mac ON faces(app_id, pin_mac) WHERE pin_mac IS NOT NULL;
