package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/consent"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/geoip"
	"github.com/likeness/likeness/server"
	"github.com/likeness/likeness/static"
	"github.com/likeness/likeness/store/sqlite"
	"github.com/likeness/likeness/web"
)

// demoAppName names the application `serve --demo` creates and reuses.
const demoAppName = "Likeness demo"

// openStore opens the existing embedded store in dir and creates nothing:
// a missing directory, database or master key is an error. Commands that
// only read or maintain use it. with, when given, adjusts the store's
// options (e.g. its vector index, an exclusive lock).
func openStore(ctx context.Context, dir string, with ...func(*sqlite.Options)) (*sqlite.DB, error) {
	return openStoreAt(ctx, storeLoc{dir: dir}, false, with...)
}

// createStore opens the embedded store in dir, creating dir (0700), the
// master key (LIKENESS_MASTER_KEY_FILE, default DIR/master.key) and the
// database when they do not exist yet: serve, app create and admin create.
// A database without its master key is still an error that changes nothing.
func createStore(ctx context.Context, dir string, with ...func(*sqlite.Options)) (*sqlite.DB, error) {
	return openStoreAt(ctx, storeLoc{dir: dir}, true, with...)
}

// storeLoc is where a command's store is: the data directory (SQLite), or
// a PostgreSQL database and the master key file every replica shares.
type storeLoc struct {
	dir      string // --data
	database string // --database postgres://… ($LIKENESS_DATABASE_URL); "" means SQLite in dir
	keyFile  string // --master-key-file ($LIKENESS_MASTER_KEY_FILE); "" means DIR/master.key
}

// storeFlags registers --database and --master-key-file; the caller sets
// dir from its --data flag.
func storeFlags(fs *flag.FlagSet) *storeLoc {
	loc := &storeLoc{}
	fs.StringVar(&loc.database, "database", os.Getenv("LIKENESS_DATABASE_URL"),
		"PostgreSQL database postgres://… shared by several servers (default: $LIKENESS_DATABASE_URL; none: the embedded SQLite store in --data)")
	fs.StringVar(&loc.keyFile, "master-key-file", os.Getenv("LIKENESS_MASTER_KEY_FILE"),
		"the master key, the same file for every server of a database (default: $LIKENESS_MASTER_KEY_FILE, else DATA/master.key)")
	return loc
}

// at returns loc with its data directory set.
func (loc *storeLoc) at(dir string) storeLoc {
	l := *loc
	l.dir = dir
	return l
}

// openStoreAt opens the store at loc; with create, what does not exist yet
// is made (for PostgreSQL: the master key file and the schema, never the
// database itself).
func openStoreAt(ctx context.Context, loc storeLoc, create bool, with ...func(*sqlite.Options)) (*sqlite.DB, error) {
	keyFile := loc.keyFile
	if keyFile == "" {
		keyFile = os.Getenv("LIKENESS_MASTER_KEY_FILE")
	}
	if loc.database != "" {
		return openPostgres(ctx, loc, keyFile, create, with...)
	}
	dir := loc.dir
	if dir == "" {
		return nil, usageError("--data DIR is required")
	}
	dbFile := filepath.Join(dir, "likeness.db")
	if keyFile == "" {
		keyFile = filepath.Join(dir, "master.key")
	}
	_, err := os.Stat(dbFile)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, iofs.ErrNotExist):
		return nil, err
	case !exists && !create:
		if _, err := os.Stat(dir); errors.Is(err, iofs.ErrNotExist) {
			return nil, fmt.Errorf("the data directory %s does not exist (check --data); nothing was created", dir)
		}
		return nil, fmt.Errorf("there is no Likeness database in %s (check --data); nothing was created", dir)
	}
	var key []byte
	if exists {
		key, err = crypt.LoadMasterKey(keyFile)
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, fmt.Errorf("the master key %s is missing: the database %s cannot be opened without the key it was made with "+
				"(restore the key file or set LIKENESS_MASTER_KEY_FILE); nothing was changed", keyFile, dbFile)
		}
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		key, err = crypt.LoadOrCreateMasterKey(keyFile)
	}
	if err != nil {
		return nil, err
	}
	opts := sqlite.Options{Now: time.Now, MasterKey: key, MustExist: exists}
	for _, f := range with {
		f(&opts)
	}
	db, err := sqlite.Open(ctx, dbFile, opts)
	if errors.Is(err, sqlite.ErrLocked) {
		return nil, fmt.Errorf("%s is in use by another likeness server (only one may use a data directory at a time)", dir)
	}
	return db, err
}

// openPostgres opens the PostgreSQL store at loc. The master key is never
// in the database: it is the file keyFile (or DIR/master.key with --data),
// made by the first server when create is set; a server with another key
// than the one the database was made with refuses to start.
func openPostgres(ctx context.Context, loc storeLoc, keyFile string, create bool, with ...func(*sqlite.Options)) (*sqlite.DB, error) {
	if !sqlite.IsPostgresURL(loc.database) {
		return nil, usageError("--database must be a postgres:// or postgresql:// URL")
	}
	if keyFile == "" && loc.dir != "" {
		keyFile = filepath.Join(loc.dir, "master.key")
	}
	if keyFile == "" {
		return nil, usageError("with --database, the master key file is needed: --master-key-file FILE, LIKENESS_MASTER_KEY_FILE or --data DIR (DIR/master.key)")
	}
	var key []byte
	var err error
	if create {
		if dir := filepath.Dir(keyFile); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
		}
		key, err = crypt.LoadOrCreateMasterKey(keyFile)
	} else {
		key, err = crypt.LoadMasterKey(keyFile)
	}
	if err != nil {
		return nil, err
	}
	opts := sqlite.Options{Now: time.Now, MasterKey: key, MustExist: !create}
	for _, f := range with {
		f(&opts)
	}
	return sqlite.OpenPostgres(ctx, loc.database, opts)
}

// cliError shows an application error by its public message.
func cliError(err error) error {
	var le *likeness.Error
	if errors.As(err, &le) {
		return errors.New(le.Message)
	}
	return err
}

// exclusive makes the store lock its data directory for as long as it is open.
func exclusive(o *sqlite.Options) { o.Exclusive = true }

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError("--log-level: " + err.Error())
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	ecfg := engineFlags(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address HOST:PORT")
	data := fs.String("data", "", "data directory (embedded store; with --database, the master key and TLS certificates)")
	sl := storeFlags(fs)
	demo := fs.Bool("demo", false, "serve /demo with a demo application for this server's origin")
	publicURL := fs.String("public-url", "", "the URL browsers use (default http://ADDR)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	signUp := fs.String("console-signup", web.SignUpFirst, "who may create a console account: first (only while none exists), open or off")
	hooksPrivate := fs.Bool("webhook-allow-private", false, "allow webhooks to loopback and private addresses (development)")
	vc := vectorFlags(fs) // index.go
	maxSessions := fs.Int("max-sessions", 0, "concurrent widget sessions before TOO_MANY_REQUESTS (default 16 per engine worker)")
	sessionsPerIP := fs.Int("max-sessions-per-ip", 0, "concurrent widget sessions of one client address, across applications (default 4)")
	connsPerIP := fs.Int("max-conns-per-ip", 0, "open connections of one client address; trusted proxies are exempt (default 64)")
	proxies := fs.String("trusted-proxies", os.Getenv("LIKENESS_TRUSTED_PROXIES"), "comma-separated proxy addresses or CIDRs whose X-Forwarded-For and country header are believed")
	geoDB := fs.String("geoip-db", os.Getenv("LIKENESS_GEOIP_DB"), "MaxMind DB file (GeoLite2/GeoIP2 Country or City) for allowedCountries")
	keyRotation := fs.Duration("key-rotation", defaultKeyRotation, "replace the token signing key when it is this old (0: never; `likeness keys rotate` rotates at once)")
	countryHeader := fs.String("country-header", os.Getenv("LIKENESS_COUNTRY_HEADER"), "header with the client's country set by a trusted proxy, e.g. CF-IPCountry")
	prompts := fs.String("liveness-prompts", "blink,turn_left,turn_right", "what strict liveness challenges draw two prompts from; a turn is always one of them")
	tc := tlsFlags(fs) // tls.go
	oc := opsFlags(fs) // ops.go
	if err := parse(fs, args); err != nil {
		return err
	}
	pool, err := server.ParsePrompts(*prompts)
	if err != nil {
		return usageError("--liveness-prompts: " + err.Error())
	}
	if err := oc.validate(*addr); err != nil {
		return err
	}
	if err := checkSignUp(*signUp); err != nil {
		return err
	}
	if *keyRotation < 0 {
		return usageError("--key-rotation must be 0 (never) or a positive duration")
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	ln, stopTLS, err := tc.listen(ctx, ln, publicURL, *data, log)
	if err != nil {
		return err
	}
	defer stopTLS()
	vi, closeVI, err := vc.open(ctx, log)
	if err != nil {
		return err
	}
	defer closeVI() // after the store
	// One pool for every argon2id hash: console passwords and PINs.
	hashing := crypt.NewPool(0, 0)
	db, err := openStoreAt(ctx, sl.at(*data), true, vc.with(vi, log), exclusive, func(o *sqlite.Options) { o.Hashing = hashing })
	if err != nil {
		return err
	}
	defer db.Close()
	defer startIndexMaintenance(ctx, db, log, vc)() // stopped before the store closes
	hooks, err := newWebhookWorker(db, log, *hooksPrivate, os.Getenv)
	if err != nil {
		return err
	}
	go hooks.Run(ctx)
	defer hooks.Close() // stops and drains webhook delivery before the store closes
	network, closeNet, err := openNetwork(*proxies, *geoDB, *countryHeader)
	if err != nil {
		return err
	}
	defer closeNet()
	eng, err := engine.New(*ecfg)
	if err != nil {
		return err
	}
	defer eng.Close()
	cfg := server.Config{
		Network:   network,
		PublicURL: *publicURL, Apps: db, Consent: consent.New(db, time.Now, consent.WithPublicURL(*publicURL)), Faces: db, Keys: db, API: db, Policy: db, Identify: db, Webhooks: db, Throttles: db,
		Engine: eng, Logger: log, Now: time.Now, Limits: server.Limits{MaxSessions: *maxSessions, MaxSessionsPerIP: *sessionsPerIP, MaxConnsPerIP: *connsPerIP},
		Prompts: pool,
	}
	purgeCtx, stopPurge := context.WithCancel(ctx)
	purgeDone := make(chan struct{})
	go func() { defer close(purgeDone); runPurges(purgeCtx, db, log, time.Hour) }()
	defer func() { stopPurge(); <-purgeDone }()
	orgJobsDone := make(chan struct{})
	go func() { defer close(orgJobsDone); runOrgJobs(purgeCtx, db, log, time.Minute) }() // org.go
	keysDone := make(chan struct{})
	go func() { defer close(keysDone); runKeyMaintenance(purgeCtx, db, log, *keyRotation) }()
	defer func() { stopPurge(); <-orgJobsDone; <-keysDone }()
	if *demo {
		app, err := demoApp(ctx, db, *publicURL, ln.Addr().(*net.TCPAddr).Port)
		if err != nil {
			return err
		}
		cfg.DemoPublicID = app.PublicID
	}
	pages, err := newPages(ctx, db, cfg, *signUp, hashing, hooks.AllowPrivate())
	if err != nil {
		return err
	}
	cfg.Mount, cfg.Outcomes = pages.Mount, db
	cfg.Ready = readyChecks(db, eng)
	ml, err := oc.listenMetrics(db, eng)
	if err != nil {
		return err
	}
	if ml != nil {
		cfg.Observer = ml.m
		defer ml.stop()
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	if ml != nil {
		ml.serve(srv, log)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if err := db.SetServerURL(ctx, *publicURL); err != nil { // for `admin create`
		log.Warn("recording the public URL", "err", err)
	}
	if sl.database != "" {
		fmt.Fprintf(stdout, "likeness serving on %s (database PostgreSQL)\n", *publicURL)
	} else {
		fmt.Fprintf(stdout, "likeness serving on %s (data %s)\n", *publicURL, *data)
	}
	if *demo {
		fmt.Fprintf(stdout, "demo: %s/demo (application %s)\n", *publicURL, cfg.DemoPublicID)
	}
	printURLs(stdout, *publicURL, *signUp)
	if ml != nil {
		fmt.Fprintf(stdout, "metrics: http://%s/metrics (not on the public listener)\n", ml.ln.Addr())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return drainAndShutdown(srv, oc.drainTimeout, log)
}

// printURLs tells the person who started the server where everything is.
func printURLs(w io.Writer, publicURL, signUp string) {
	who := map[string]string{
		web.SignUpFirst: "the first account signed up there owns it",
		web.SignUpOpen:  "anyone may sign up",
		web.SignUpOff:   "sign-up is off: make accounts with `likeness admin create`",
	}[signUp]
	fmt.Fprintf(w, "console: %s/console (%s)\n", publicURL, who)
	fmt.Fprintf(w, "widget: %s/fio.js (ES module: %s/fio.mjs)\n", publicURL, publicURL)
	if a, err := static.Load("fio.js"); err == nil {
		fmt.Fprintf(w, "widget, versioned (cache forever): %s/%s\n", publicURL, a.Hashed)
	}
	fmt.Fprintf(w, "JWKS: %s/.well-known/jwks.json\n", publicURL)
	fmt.Fprintf(w, "REST API: %s/v1 (OpenAPI: %s/v1/openapi.json)\n", publicURL, publicURL)
}

// openNetwork builds the trusted proxies and country sources from flags.
func openNetwork(proxies, geoDB, header string) (server.Network, func(), error) {
	var n server.Network
	for _, p := range strings.Split(proxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pre, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return n, nil, usageError(fmt.Sprintf("--trusted-proxies: %q is not an address or CIDR", p))
			}
			pre = netip.PrefixFrom(a, a.BitLen())
		}
		n.TrustedProxies = append(n.TrustedProxies, pre)
	}
	if header != "" && len(n.TrustedProxies) == 0 {
		return n, nil, usageError("--country-header needs --trusted-proxies: the header is believed only from them")
	}
	n.CountryHeader = header
	if geoDB == "" {
		return n, func() {}, nil
	}
	db, err := geoip.Open(geoDB)
	if err != nil {
		return n, nil, err
	}
	n.Countries = db
	return n, func() { db.Close() }, nil
}

// The embedded store serves every interface the server needs.
var (
	_ server.APIStore    = (*sqlite.DB)(nil)
	_ server.PolicyStore = (*sqlite.DB)(nil)
)

// usageRetention is how long API usage records are kept.
const usageRetention = 90 * 24 * time.Hour

// runPurges erases faces past their collection's retention period and old
// usage records, at start and then every interval, until ctx ends.
func runPurges(ctx context.Context, db *sqlite.DB, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := db.PurgeExpired(ctx); err != nil {
			log.Error("retention purge", "err", err, "purged", n)
		} else if n > 0 {
			log.Info("retention purge", "purged", n)
		}
		if _, err := db.PurgeUsage(ctx, time.Now().Add(-usageRetention)); err != nil {
			log.Error("usage purge", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// demoApp returns the demo application, creating it on first use, with the
// server's own origins allowed.
func demoApp(ctx context.Context, db *sqlite.DB, publicURL string, port int) (*likeness.Application, error) {
	apps, err := db.ListApps(ctx)
	if err != nil {
		return nil, err
	}
	origins := []string{publicURL, fmt.Sprintf("http://localhost:%d", port), fmt.Sprintf("http://127.0.0.1:%d", port)}
	for _, a := range apps {
		if a.Name == demoAppName && containsAll(a.Origins, origins) {
			return a, nil
		}
	}
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: demoAppName, Origins: origins})
	return app, err
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		n, err := likeness.NormalizeOrigin(w)
		if err != nil {
			return false
		}
		found := false
		for _, h := range have {
			if h == n {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runApp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError("usage: likeness app create --data DIR --name NAME --origin URL [--origin URL…] [--webhook-url URL] [--json]")
	}
	fs := flag.NewFlagSet("app create", flag.ContinueOnError)
	data := fs.String("data", "", "data directory (embedded store)")
	sl := storeFlags(fs)
	name := fs.String("name", "", "application name")
	var origins stringList
	fs.Var(&origins, "origin", "allowed origin scheme://host[:port] (repeatable)")
	webhook := fs.String("webhook-url", "", "first webhook endpoint URL")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *name == "" || len(origins) == 0 {
		return usageError("app create needs --name and at least one --origin")
	}
	if *data == "" && sl.database == "" {
		return usageError("--data DIR (or --database URL) is required")
	}
	// Every flag is checked before anything is created.
	in := likeness.AppCreate{Name: *name, Origins: origins, WebhookURL: *webhook}
	if err := sqlite.CheckAppCreate(in); err != nil {
		return cliError(err)
	}
	db, err := openStoreAt(ctx, sl.at(*data), true)
	if err != nil {
		return err
	}
	defer db.Close()
	app, sec, err := db.CreateApp(ctx, in)
	if err != nil {
		return cliError(err)
	}
	out := map[string]any{
		"publicId": app.PublicID, "name": app.Name, "origins": app.Origins, "collectionId": app.CollectionID,
		"apiKey": sec.APIKey, "webhookSecret": sec.WebhookSecret, "createdAt": app.CreatedAt,
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(out)
	}
	fmt.Fprintf(stdout, "application %q created\npublic ID:      %s\ncollection ID:  %s\nAPI key:        %s   (shown once)\n",
		app.Name, app.PublicID, app.CollectionID, sec.APIKey)
	if sec.WebhookSecret != "" {
		fmt.Fprintf(stdout, "webhook secret: %s   (shown once)\n", sec.WebhookSecret)
	}
	return nil
}
