-- The vector feed: every enrollment and erasure, in commit order, so that
-- each replica sharing a PostgreSQL database keeps its in-process vector
-- index in step with the others (store/sqlite/feed.go). Only PostgreSQL's
-- triggers write it; on SQLite one process owns the database and its index,
-- and the table stays empty. Rows hold identifiers only, never a template,
-- and are purged after a few minutes.
CREATE TABLE vector_feed (
	seq           INTEGER PRIMARY KEY,
	collection_id TEXT NOT NULL,
	facial_id     TEXT NOT NULL,
	op            TEXT NOT NULL CHECK (op IN ('add', 'remove')),
	at            INTEGER NOT NULL              -- Unix milliseconds
) STRICT;
