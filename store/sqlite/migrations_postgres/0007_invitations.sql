-- Invitations to join an organization: the person named by the email
-- accepts (signed in as that email, or making the account then); nobody is
-- added without accepting. Only the SHA-256 of the link's secret is kept.
-- An accepted or withdrawn invitation is deleted; an expired one is ignored
-- and deleted with the next invitation of its organization.
CREATE TABLE org_invitations (
	id         TEXT PRIMARY KEY,                -- "inv_" + 20 base62 characters
	org_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	email      TEXT NOT NULL,                   -- lower case
	role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
	token_hash TEXT NOT NULL UNIQUE,            -- hex SHA-256 of the link's secret
	invited_by TEXT REFERENCES console_users(id) ON DELETE SET NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	UNIQUE (org_id, email)                      -- a new invitation replaces the old one
);
