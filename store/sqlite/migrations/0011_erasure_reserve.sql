-- Space kept in the database file for erasures on a full disk: the store
-- fills this table with zero blobs and, when an erasure fails for lack of
-- space, frees them in the erasure's own transaction (store/sqlite/reserve.go).
CREATE TABLE erasure_reserve (
	id     INTEGER PRIMARY KEY,
	filler BLOB NOT NULL
) STRICT;
