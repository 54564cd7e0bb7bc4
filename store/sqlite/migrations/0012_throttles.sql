-- Failure counts of the throttles (console sign-ins, liveness checks, …),
-- shared by every server on the database (store/sqlite/throttle.go). The
-- key is an HMAC of the purpose and the key (a client address, an email
-- address), never the key itself; times are Unix milliseconds. A row whose
-- expires_at has passed means nothing and is deleted when keys are added.
CREATE TABLE throttles (
	id         INTEGER PRIMARY KEY,
	purpose    TEXT    NOT NULL,
	key_mac    BLOB    NOT NULL,
	failures   INTEGER NOT NULL,
	start_at   INTEGER NOT NULL,
	last_at    INTEGER NOT NULL,
	until_at   INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	UNIQUE (purpose, key_mac)
) STRICT;
CREATE INDEX throttles_expiry ON throttles (expires_at);
