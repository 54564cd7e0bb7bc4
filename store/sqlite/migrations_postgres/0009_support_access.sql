-- Support access only when the customer grants it (issue 17): operators
-- (`likeness admin create --operator`) see no organization's data unless an
-- owner of that organization granted support access, for 1 hour to 7 days.
ALTER TABLE console_users ADD COLUMN operator BIGINT NOT NULL DEFAULT 0 CHECK (operator IN (0, 1));

CREATE TABLE support_grants (
	id         TEXT PRIMARY KEY,                 -- "sup_" + 20 base62 characters
	org_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	granted_by TEXT NOT NULL,                    -- console user ID of the owner
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	revoked_at BIGINT,
	revoked_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX support_grants_org ON support_grants(org_id, expires_at);
