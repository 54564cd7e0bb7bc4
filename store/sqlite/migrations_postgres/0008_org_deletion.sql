-- Deleting an organization (issue 17). Biometric data is erased at once;
-- the organization row, its members and its audit trail stay, disabled, for
-- 90 days (likeness.OrgRetention) so that an operator can restore it, and
-- are purged after that.
ALTER TABLE organizations ADD COLUMN deleted_at BIGINT;   -- NULL = in use; else disabled since
ALTER TABLE organizations ADD COLUMN shredded_at BIGINT;  -- when its applications' data keys were destroyed
CREATE INDEX organizations_deleted ON organizations(deleted_at) WHERE deleted_at IS NOT NULL;
