// Package sqlite is the embedded store of Likeness: one SQLite file holding
// applications, API keys, webhook endpoints, consent notices and records,
// faces (templates sealed with the application's data key) and signing keys,
// plus an in-process vector index of every application's templates.
//
// Writes go through a single connection, one transaction at a time; reads use
// a pool of read-only connections (WAL mode lets them run beside the writer).
//
// The same code also runs on PostgreSQL (OpenPostgres, postgres.go), so that
// several servers can share one database: the SQL is written once, in
// SQLite's placeholders, and the few differences are in dialect and in the
// two migration directories (migrations, migrations_postgres), which hold
// the same file names. See docs/storage.md.
package sqlite

import (
	"context"
	"crypto/ecdsa"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/store/vecindex"
)

//go:embed migrations/*.sql migrations_postgres/*.sql
var migrations embed.FS

// busyTimeout is how long a connection waits for a lock before SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Options configure Open.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MasterKey (crypt.KeySize bytes, kept outside the database) seals the
	// applications' data keys and the signing keys. Required. Open keeps a
	// copy.
	MasterKey []byte
	// Index is the vector index; nil means a new in-process one
	// (store/vecindex), which the store owns. An index passed in is the
	// caller's to close, after the store.
	Index likeness.VectorIndex
	// Logger receives warnings about the vector index; nil discards them.
	Logger *slog.Logger
	// Hashing runs PIN hashing (argon2id); share it with everything else
	// that hashes (the console's passwords). nil means a pool of the store's
	// own with crypt's defaults.
	Hashing *crypt.Pool
	// MustExist makes Open fail, creating nothing, when the database file
	// does not exist yet: commands that only read must never create.
	// On PostgreSQL: fail, creating nothing, when the database has no
	// Likeness schema yet.
	MustExist bool
	// Exclusive takes an exclusive lock on the database's directory for as
	// long as the store is open; Open fails with ErrLocked while another
	// process (or another DB) holds it. Servers set it: two servers on one
	// directory would let their in-memory vector indexes drift apart.
	// SQLite only: PostgreSQL replicas share their database.
	Exclusive bool
	// FeedInterval is how often a PostgreSQL store with the in-process
	// vector index reads the other replicas' enrollments and erasures from
	// vector_feed; 0 means 250ms. Unused on SQLite.
	FeedInterval time.Duration
}

// ErrLocked is returned by Open when another process has the data
// directory open exclusively.
var ErrLocked = errors.New("the data directory is in use by another Likeness server")

// DB is the store, on SQLite or PostgreSQL. It is safe for concurrent use.
type DB struct {
	dialect          // what differs on PostgreSQL (postgres.go)
	lock    *os.File // the directory lock (Options.Exclusive), released by Close
	path    string   // the database file; for PostgreSQL its URL without password
	w       *sql.DB  // the single writer connection (PostgreSQL: a small pool, one writer at a time)
	r       *sql.DB  // read-only connections
	wmu     sync.Mutex
	now     func() time.Time
	master  []byte
	// auditKey is the HMAC key of the audit chain, derived from the master key.
	auditKey []byte
	index    *indexer    // the vector index (vectors.go)
	hashing  *crypt.Pool // bounds argon2id PIN hashing (pin.go)

	mu   sync.RWMutex
	apps map[string]appKey // by application ID: collection and data key

	sigMu   sync.Mutex
	sigKeys map[string]*ecdsa.PrivateKey // unsealed signing keys by key ID

	outbox outbox // webhook outbox wake-up (outbox.go)
	feed   feed   // other replicas' vector changes (feed.go)
}

var (
	_ likeness.AppService  = (*DB)(nil)
	_ likeness.FaceService = (*DB)(nil)
)

// Open opens (creating when needed) the database file at path, applies the
// embedded migrations that have not run yet, checks that the master key is
// the one the database was made with, and loads every application's
// templates into the vector index.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if IsPostgresURL(path) {
		return OpenPostgres(ctx, path, opts)
	}
	if len(opts.MasterKey) != crypt.KeySize {
		return nil, fmt.Errorf("sqlite: master key must be %d bytes", crypt.KeySize)
	}
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: %q is not a plain file path", path)
	}
	if opts.MustExist {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, likeness.Errorf(likeness.ENOTFOUND, "There is no Likeness database at %s.", path)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("sqlite: %s is not a regular file", path)
		}
	} else if err := createFile(path); err != nil {
		return nil, err
	}
	var lock *os.File
	if opts.Exclusive {
		var err error
		if lock, err = lockDir(filepath.Dir(path)); err != nil {
			return nil, err
		}
	}
	db, err := newDB(path, opts)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	db.lock = lock
	if err := db.open(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// newDB makes a DB with no connections yet.
func newDB(path string, opts Options) (*DB, error) {
	if len(opts.MasterKey) != crypt.KeySize {
		return nil, fmt.Errorf("store: master key must be %d bytes", crypt.KeySize)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ak, err := auditKey(opts.MasterKey)
	if err != nil {
		return nil, err
	}
	db := &DB{
		path:     path,
		now:      opts.Now,
		auditKey: ak,
		master:   slices.Clone(opts.MasterKey),
		apps:     make(map[string]appKey),
		hashing:  opts.Hashing,
	}
	if db.hashing == nil {
		db.hashing = crypt.NewPool(0, 0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	db.index = newIndexer(db, opts.Index, opts.Logger)
	return db, nil
}

func (db *DB) open(ctx context.Context) error {
	bt := strconv.FormatInt(busyTimeout.Milliseconds(), 10)
	common := "_pragma=busy_timeout(" + bt + ")&_pragma=foreign_keys(1)&_pragma=secure_delete(1)"
	var err error
	db.w, err = sql.Open("sqlite", db.path+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)
	if err := db.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	if err := db.migrate(ctx); err != nil {
		return err
	}
	db.r, err = sql.Open("sqlite", db.path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.r.SetMaxOpenConns(n)
	db.r.SetMaxIdleConns(n)
	if err := db.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	if err := db.checkMasterKey(ctx); err != nil {
		return err
	}
	if err := db.initAuditCheckpoint(ctx); err != nil {
		return err
	}
	db.ensureReserve(ctx)
	return db.loadIndex(ctx)
}

// createFile makes the database file (mode 0600) and its directory (0700)
// when they do not exist, so that SQLite, which gives its WAL and shared
// memory files the database file's mode, never makes them world-readable.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return f.Close()
}

// Close closes the database and overwrites the keys and templates it holds
// in memory. It is safe to call more than once.
func (db *DB) Close() error {
	db.stopFeed()
	var errs []error
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	db.mu.Lock()
	for id, a := range db.apps {
		clear(a.key)
		delete(db.apps, id)
	}
	db.mu.Unlock()
	db.index.Clear()
	clear(db.master)
	if db.lock != nil {
		errs = append(errs, db.lock.Close())
		db.lock = nil
	}
	return errors.Join(errs...)
}

// Index returns the in-process vector index, nil when another backend is
// configured. It is exposed for tests and diagnostics; callers must not
// change it.
func (db *DB) Index() *vecindex.Index { return db.index.embedded }

// migrate applies, in file-name order, each embedded migration not yet
// recorded in schema_migrations, each in its own transaction.
func (db *DB) migrate(ctx context.Context) error {
	q := `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`
	if db.postgres {
		q = strings.ReplaceAll(strings.TrimSuffix(q, " STRICT"), "INTEGER", "BIGINT")
	}
	if _, err := db.w.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, db.migrationDir()+"/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	seen := map[int]string{}
	for _, name := range names {
		base := filepath.Base(name)
		num, _, _ := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if err != nil || version <= 0 {
			return fmt.Errorf("sqlite: migration %s: name must start with a positive number", base)
		}
		if prev, ok := seen[version]; ok {
			return fmt.Errorf("sqlite: migrations %s and %s share version %d", prev, base, version)
		}
		seen[version] = base
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = db.update(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				version, base, ms(db.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", base, err)
		}
	}
	return nil
}

// migrationDir is the embedded directory of the dialect's migrations: the
// same file names in both, each written for its database.
func (db *DB) migrationDir() string {
	if db.postgres {
		return "migrations_postgres"
	}
	return "migrations"
}

// checkMasterKey stores, on first use, a value sealed by the master key, and
// later refuses a master key that cannot open it.
func (db *DB) checkMasterKey(ctx context.Context) error {
	const check = "likeness master key check"
	aad := crypt.AAD("master-key-check")
	return db.update(ctx, func(tx *sql.Tx) error {
		var sealed []byte
		err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'master_key_check'`).Scan(&sealed)
		if errors.Is(err, sql.ErrNoRows) {
			sealed, err = crypt.Seal(db.master, []byte(check), aad)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('master_key_check', ?)`, sealed)
			return err
		}
		if err != nil {
			return err
		}
		if pt, err := crypt.Open(db.master, sealed, aad); err != nil || string(pt) != check {
			return fmt.Errorf("sqlite: the master key does not match the database %s", db.path)
		}
		return nil
	})
}

// update runs fn in a write transaction, holding the writer lock.
func (db *DB) update(ctx context.Context, fn func(tx *sql.Tx) error) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	return db.updateLocked(ctx, fn)
}

// updateLocked runs fn in a write transaction; the caller holds db.wmu. On
// PostgreSQL the transaction first takes the writer lock shared by every
// replica (postgres.go).
func (db *DB) updateLocked(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fullError(fmt.Errorf("sqlite: begin: %w", err))
	}
	if db.postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, writerLock); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("postgres: writer lock: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return fullError(err)
	}
	if err := tx.Commit(); err != nil {
		return fullError(fmt.Errorf("sqlite: commit: %w", err))
	}
	return nil
}

// fullError gives a write that failed for lack of space a clear public
// error (EUNAVAILABLE); the cause stays for the log and for isFull.
func fullError(err error) error {
	var le *likeness.Error
	if isFull(err) && !errors.As(err, &le) {
		return likeness.Wrap(err, likeness.EUNAVAILABLE, "The server has no storage space left. Try again later.")
	}
	return err
}

// checkpoint copies the WAL into the database file and truncates the WAL, so
// that erased data does not linger in old WAL frames. Best effort: a busy
// database is checkpointed later by SQLite itself. The caller holds db.wmu.
func (db *DB) checkpoint(ctx context.Context) {
	if db.postgres {
		return
	}
	_, _ = db.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
}

// ms returns t as Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS returns Unix milliseconds as a UTC time.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullTime returns a nullable millisecond column as a time pointer.
func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

// nowTime returns the clock's time truncated to the stored precision.
func (db *DB) nowTime() time.Time { return db.now().UTC().Truncate(time.Millisecond) }

// sqliteCode returns the extended SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isUniqueViolation(err error) bool {
	if pgCode(err) == "23505" { // unique_violation
		return true
	}
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isForeignKeyViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY || pgCode(err) == "23503" // foreign_key_violation
}
