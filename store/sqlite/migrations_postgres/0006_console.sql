-- The console for site owners and the self-service privacy page: console
-- accounts and their organization memberships, ended sessions, result
-- tokens already used, and counts of widget outcomes for analytics.

CREATE TABLE console_users (
	id                   TEXT PRIMARY KEY,         -- "usr_" + 20 base62 characters
	email                TEXT NOT NULL UNIQUE,     -- lower case
	password_hash        TEXT NOT NULL,            -- argon2id, PHC string format
	must_change_password BIGINT NOT NULL DEFAULT 0 CHECK (must_change_password IN (0, 1)),
	session_version      BIGINT NOT NULL DEFAULT 1, -- raised to end every session of the account
	created_at           BIGINT NOT NULL,
	last_sign_in_at      BIGINT
);

CREATE TABLE org_members (
	org_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL REFERENCES console_users(id) ON DELETE CASCADE,
	role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
	created_at BIGINT NOT NULL,
	PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members(user_id);

-- Console and privacy sessions ended before they expire (sign-out, deletion):
-- a session ID is kept until the session could no longer be used anyway.
CREATE TABLE revoked_sessions (
	sid        TEXT PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_sessions_expiry ON revoked_sessions(expires_at);

-- Result tokens (their jti) accepted once by the privacy page, kept until
-- they expire so that a replayed token is refused.
CREATE TABLE used_tokens (
	jti        TEXT PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
CREATE INDEX used_tokens_expiry ON used_tokens(expires_at);

-- How widget operations ended, per application, day, operation and outcome
-- ("ok" or a FACEIO code name). Only counts: no Facial ID, no IP address.
CREATE TABLE outcome_counts (
	app_id  TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
	day     BIGINT NOT NULL,                                  -- Unix day (UTC)
	kind    TEXT NOT NULL CHECK (kind IN ('enroll', 'authenticate')),
	outcome TEXT NOT NULL,
	count   BIGINT NOT NULL,
	PRIMARY KEY (app_id, day, kind, outcome)
);
