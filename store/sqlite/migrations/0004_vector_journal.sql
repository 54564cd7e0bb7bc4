-- The vector index journal: what the vector index (in process, or Weaviate)
-- still owes the faces table. SQLite is the source of truth; the index is
-- updated after each commit, and a row here records an index change that
-- may not have happened yet, so that it is retried.
--   op 'add':    the face was committed but its index write failed.
--   op 'remove': the face was deleted; the row is written by the trigger
--                below in the deleting transaction itself, whatever code
--                deletes it, and cleared once the removal is physical
--                (after Compact for an index that writes vectors to disk).
-- Rows hold identifiers only, never a template.
CREATE TABLE vector_journal (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT,  -- order of the changes
	collection_id TEXT NOT NULL,
	facial_id     TEXT NOT NULL,
	op            TEXT NOT NULL CHECK (op IN ('add', 'remove')),
	UNIQUE (collection_id, facial_id)
) STRICT;

CREATE TRIGGER faces_vector_journal AFTER DELETE ON faces
BEGIN
	INSERT OR REPLACE INTO vector_journal (collection_id, facial_id, op)
	SELECT collection_id, OLD.facial_id, 'remove' FROM applications WHERE id = OLD.app_id;
END;
