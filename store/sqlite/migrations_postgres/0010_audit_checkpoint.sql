-- The audit trail's heads and its checkpoint are authenticated with the audit
-- key (an HMAC derived from the master key). This marker asks the store, once,
-- to MAC the heads written before and to record the first checkpoint
-- (store/sqlite/audit.go, initAuditCheckpoint); the store removes it.
INSERT INTO meta (key, value) VALUES ('audit_checkpoint_init', '\x01'::bytea)
	ON CONFLICT (key) DO NOTHING;
