package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/likeness/likeness"
)

// The PostgreSQL backend runs the same code as SQLite through database/sql:
// every function of the store takes a *sql.Tx, and the driver below rewrites
// SQLite's "?" placeholders to PostgreSQL's "$n" and booleans to the 0/1
// integers both schemas store. What differs between the dialects is in
// dialect (below) and in the two migration directories.
//
// Write transactions are serialised across every replica by one advisory
// transaction lock (writerLock), the PostgreSQL counterpart of SQLite's
// single writer: the store's read-then-write logic (the audit chain's head,
// duplicate checks, PIN attempts, single-use tokens) keeps the meaning it
// has on SQLite whatever the number of replicas. Reads run in parallel.

// Advisory lock keys (pg_advisory_lock's bigint): arbitrary constants, the
// same in every replica.
const (
	migrateLock     int64 = 0x4c696b656e657301 // migrations at start
	writerLock      int64 = 0x4c696b656e657302 // every write transaction
	maintenanceLock int64 = 0x4c696b656e657303 // retention purge, index compaction
)

// dialect is what the store does differently on each database.
type dialect struct {
	postgres bool
}

// skipLocked is the suffix of a SELECT that leases rows: on PostgreSQL the
// rows another transaction holds are skipped (FOR UPDATE SKIP LOCKED); SQLite
// has one writer and needs none.
func (d dialect) skipLocked(table string) string {
	if d.postgres {
		return " FOR UPDATE OF " + table + " SKIP LOCKED"
	}
	return ""
}

// IsPostgresURL reports whether target names a PostgreSQL database
// (postgres:// or postgresql://) rather than a SQLite file.
func IsPostgresURL(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// OpenPostgres opens the PostgreSQL database at url (postgres://…): it
// applies the embedded migrations not run yet (under an advisory lock, so
// that replicas starting together do not race), checks the master key as
// Open does, and loads every application's templates into the vector
// index. With the in-process index it then follows the other replicas'
// enrollments and erasures (vector_feed, polled every Options.FeedInterval).
// With Options.MustExist it creates nothing in a database that has no
// Likeness schema yet; Options.Exclusive does not apply (replicas share the
// database).
func OpenPostgres(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", redactURL(err.Error(), url))
	}
	db, err := newDB(redactURL(url, url), opts)
	if err != nil {
		return nil, err
	}
	db.dialect = dialect{postgres: true}
	db.w = sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
	// One connection writes at a time (db.wmu); the others hold the session
	// advisory locks (migrations, maintenance) meanwhile.
	db.w.SetMaxOpenConns(4)
	// Readers are read-only, as SQLite's (query_only).
	rcfg := cfg.Copy()
	rcfg.RuntimeParams["default_transaction_read_only"] = "on"
	db.r = sql.OpenDB(rebindConnector{stdlib.GetConnector(*rcfg)})
	db.r.SetMaxOpenConns(16)
	db.r.SetMaxIdleConns(16)
	if err := db.openPostgres(ctx, opts.MustExist); err != nil {
		db.Close()
		return nil, err
	}
	db.startFeed(opts.FeedInterval)
	return db, nil
}

func (db *DB) openPostgres(ctx context.Context, mustExist bool) error {
	if err := db.w.PingContext(ctx); err != nil {
		return fmt.Errorf("postgres: connect %s: %w", db.path, err)
	}
	if mustExist {
		var exists bool
		if err := db.r.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
			return fmt.Errorf("postgres: %s: %w", db.path, err)
		}
		if !exists {
			return likeness.Errorf(likeness.ENOTFOUND, "There is no Likeness database at %s.", db.path)
		}
	}
	if err := db.migrateLocked(ctx); err != nil {
		return err
	}
	if err := db.checkMasterKey(ctx); err != nil {
		return err
	}
	if err := db.initAuditCheckpoint(ctx); err != nil {
		return err
	}
	last, err := db.feedHead(ctx)
	if err != nil {
		return err
	}
	db.feed.last, db.feed.lastPoll = last, time.Now()
	return db.loadIndex(ctx)
}

// migrateLocked applies the migrations holding a session advisory lock.
func (db *DB) migrateLocked(ctx context.Context) error {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(?)`, migrateLock); err != nil {
		return fmt.Errorf("postgres: migrations lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(?)`, migrateLock)
	return db.migrate(ctx)
}

// tryMaintenance runs fn only if no other replica runs maintenance (the
// retention purge, index compaction) at the same time; on SQLite it just
// runs fn. It reports whether fn ran.
func (db *DB) tryMaintenance(ctx context.Context, fn func() error) (bool, error) {
	if !db.postgres {
		return true, fn()
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: maintenance lock: %w", err)
	}
	defer conn.Close()
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(?)`, maintenanceLock).Scan(&ok); err != nil {
		return false, fmt.Errorf("postgres: maintenance lock: %w", err)
	}
	if !ok {
		return false, nil
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(?)`, maintenanceLock)
	return true, fn()
}

// redactURL replaces the password of url, wherever it appears in s.
func redactURL(s, url string) string {
	if cfg, err := pgconn.ParseConfig(url); err == nil && cfg.Password != "" {
		s = strings.ReplaceAll(s, cfg.Password, "xxxxx")
	}
	return s
}

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// rebindConnector makes connections that take SQLite's SQL.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &rebindConn{conn.(*stdlib.Conn)}, nil
}

// rebindConn is a pgx connection that rewrites each statement's
// placeholders and arguments.
type rebindConn struct{ *stdlib.Conn }

func (c *rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(rebind(query))
}

func (c *rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

func (c *rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), intBools(args))
}

func (c *rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), intBools(args))
}

// intBools stores booleans as the 0/1 integers of the schema.
func intBools(args []driver.NamedValue) []driver.NamedValue {
	for i, a := range args {
		if b, ok := a.Value.(bool); ok {
			args[i].Value = int64(0)
			if b {
				args[i].Value = int64(1)
			}
		}
	}
	return args
}

// rebind rewrites the "?" placeholders of query to "$1", "$2", … (and
// "?NNN" to "$NNN"), leaving string literals, quoted identifiers and
// comments alone.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(query[i+1:], c)
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+1])
			i += j
		case c == '?':
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			b.WriteByte('$')
			if j > i+1 { // SQLite's numbered parameter ?NNN
				b.WriteString(query[i+1 : j])
				i = j - 1
				continue
			}
			n++
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
