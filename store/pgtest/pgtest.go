// Package pgtest gives tests a real PostgreSQL: a throwaway cluster of the
// test binary's own (initdb and pg_ctl from Debian's postgresql package,
// listening only on a unix socket in a temporary directory), or the server
// named by LIKENESS_TEST_DATABASE_URL. Each test gets a fresh database.
//
// A package whose tests must pass on both stores calls Main from TestMain:
// the tests run once on SQLite, then the test binary runs itself again
// with LIKENESS_TEST_STORE=postgres against the cluster.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Environment variables.
const (
	// EnvURL names an existing server (a database URL with the right to
	// create databases); unset, Main starts a cluster.
	EnvURL = "LIKENESS_TEST_DATABASE_URL"
	// EnvStore is "postgres" in the run of the tests on PostgreSQL.
	EnvStore = "LIKENESS_TEST_STORE"
)

// Enabled reports whether this run of the tests is the one on PostgreSQL.
func Enabled() bool { return os.Getenv(EnvStore) == "postgres" }

// Main runs the tests on SQLite, then on PostgreSQL, and returns the exit
// code for os.Exit. Without PostgreSQL binaries or a server to use, the
// PostgreSQL run is skipped with a message.
func Main(m *testing.M) int {
	if Enabled() {
		return m.Run()
	}
	code := m.Run()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		c, err := Start()
		if err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: the tests on PostgreSQL are skipped: %v\n", err)
			return code
		}
		defer c.Stop()
		admin = c.URL
	}
	fmt.Fprintf(os.Stderr, "pgtest: running the tests again on PostgreSQL\n")
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), EnvStore+"=postgres", EnvURL+"="+admin)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: the tests on PostgreSQL failed: %v\n", err)
		return max(code, 1)
	}
	return code
}

// Cluster is a PostgreSQL cluster in a temporary directory.
type Cluster struct {
	// URL connects to its postgres database as the superuser.
	URL string

	dir, bin string
	uid      int // the owner of the cluster when the tests run as root; else -1
}

// Start makes and starts a cluster with the newest binaries under
// /usr/lib/postgresql (or on PATH). It fails when there are none.
func Start() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, uid: -1}
	owner := ""
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: the cluster belongs to postgres.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user: %w", err)
		}
		c.uid, _ = strconv.Atoi(u.Uid)
		owner = u.Username
	} else if u, err := user.Current(); err == nil {
		owner = u.Username
	}
	// /tmp when it exists: the postgres user must reach the directory, and a
	// unix socket path must stay short (TMPDIR may be neither).
	parent := ""
	if fi, err := os.Stat("/tmp"); err == nil && fi.IsDir() {
		parent = "/tmp"
	}
	if c.dir, err = os.MkdirTemp(parent, "likeness-pg-"); err != nil {
		return nil, err
	}
	if c.uid >= 0 {
		if err := os.Chown(c.dir, c.uid, -1); err != nil {
			c.cleanup()
			return nil, err
		}
	}
	data := filepath.Join(c.dir, "data")
	if out, err := c.run("initdb", "-D", data, "-U", owner, "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		c.cleanup()
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	opts := fmt.Sprintf("-k %s -c listen_addresses='' -p 5432 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", c.dir)
	if out, err := c.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		c.cleanup()
		return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, log)
	}
	c.URL = (&url.URL{Scheme: "postgres", User: url.User(owner), Path: "/postgres",
		RawQuery: url.Values{"host": {c.dir}, "sslmode": {"disable"}}.Encode()}).String()
	return c, nil
}

// Stop stops the cluster and deletes its files.
func (c *Cluster) Stop() {
	_, _ = c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	c.cleanup()
}

func (c *Cluster) cleanup() { os.RemoveAll(c.dir) }

// run runs one of the cluster's programs as its owner.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	if c.uid >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.uid)}}
		if u, err := user.LookupId(strconv.Itoa(c.uid)); err == nil {
			gid, _ := strconv.Atoi(u.Gid)
			cmd.SysProcAttr.Credential.Gid = uint32(gid)
		}
	}
	return cmd.CombinedOutput()
}

// binDir finds the directory of initdb.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestV := "", -1
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if _, serr := os.Stat(filepath.Join(d, "initdb")); err == nil && serr == nil && v > bestV {
			best, bestV = d, v
		}
	}
	if best != "" {
		return best, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL binaries (initdb) found; install Debian's postgresql package (scripts/deps.sh does) or set " + EnvURL)
}

// NewDatabase creates an empty database on the server of this run (Main's
// cluster, or LIKENESS_TEST_DATABASE_URL) and returns its URL; the database
// is dropped when the test ends. Outside Main, with no server named, it
// starts a cluster for the test (stopped when the test ends), and skips
// the test when there are no PostgreSQL binaries.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		c, err := Start()
		if err != nil {
			tb.Skipf("pgtest: no PostgreSQL: %v", err)
		}
		tb.Cleanup(c.Stop)
		admin = c.URL
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "likeness_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			tb.Error(err)
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			tb.Errorf("pgtest: drop database: %v", err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
