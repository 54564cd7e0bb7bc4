package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
	"github.com/likeness/likeness/store/sqlite"
	"github.com/likeness/likeness/web"
)

// demoAppName names the application `serve --demo` creates and reuses.
const demoAppName = "Likeness demo"

// openStore opens the embedded store in dir, creating dir (0700) and the
// master key (LIKENESS_MASTER_KEY_FILE, default DIR/master.key) as needed;
// with, when given, adjusts the store's options (e.g. its vector index).
func openStore(ctx context.Context, dir string, with ...func(*sqlite.Options)) (*sqlite.DB, error) {
	if dir == "" {
		return nil, usageError("--data DIR is required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	keyFile := os.Getenv("LIKENESS_MASTER_KEY_FILE")
	if keyFile == "" {
		keyFile = filepath.Join(dir, "master.key")
	}
	key, err := crypt.LoadOrCreateMasterKey(keyFile)
	if err != nil {
		return nil, err
	}
	opts := sqlite.Options{Now: time.Now, MasterKey: key}
	for _, f := range with {
		f(&opts)
	}
	return sqlite.Open(ctx, filepath.Join(dir, "likeness.db"), opts)
}

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
	data := fs.String("data", "", "data directory (embedded store)")
	demo := fs.Bool("demo", false, "serve /demo with a demo application for this server's origin")
	publicURL := fs.String("public-url", "", "the URL browsers use (default http://ADDR)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	signUp := fs.String("console-signup", web.SignUpFirst, "who may create a console account: first (only while none exists), open or off")
	hooksPrivate := fs.Bool("webhook-allow-private", false, "allow webhooks to loopback and private addresses (development)")
	vc := vectorFlags(fs) // index.go
	maxSessions := fs.Int("max-sessions", 0, "concurrent widget sessions before TOO_MANY_REQUESTS (default 16 per engine worker)")
	proxies := fs.String("trusted-proxies", os.Getenv("LIKENESS_TRUSTED_PROXIES"), "comma-separated proxy addresses or CIDRs whose X-Forwarded-For and country header are believed")
	geoDB := fs.String("geoip-db", os.Getenv("LIKENESS_GEOIP_DB"), "MaxMind DB file (GeoLite2/GeoIP2 Country or City) for allowedCountries")
	countryHeader := fs.String("country-header", os.Getenv("LIKENESS_COUNTRY_HEADER"), "header with the client's country set by a trusted proxy, e.g. CF-IPCountry")
	if err := parse(fs, args); err != nil {
		return err
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
	if *publicURL == "" {
		*publicURL = "http://" + ln.Addr().String()
	}
	vi, closeVI, err := vc.open(ctx, log)
	if err != nil {
		return err
	}
	defer closeVI() // after the store
	db, err := openStore(ctx, *data, vc.with(vi, log))
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
		PublicURL: *publicURL, Apps: db, Consent: consent.New(db, time.Now), Faces: db, Keys: db, API: db, Policy: db, Identify: db, Webhooks: db,
		Engine: eng, Logger: log, Now: time.Now, Limits: server.Limits{MaxSessions: *maxSessions},
	}
	purgeCtx, stopPurge := context.WithCancel(ctx)
	purgeDone := make(chan struct{})
	go func() { defer close(purgeDone); runPurges(purgeCtx, db, log, time.Hour) }()
	defer func() { stopPurge(); <-purgeDone }()
	if *demo {
		app, err := demoApp(ctx, db, *publicURL, ln.Addr().(*net.TCPAddr).Port)
		if err != nil {
			return err
		}
		cfg.DemoPublicID = app.PublicID
	}
	pages, err := newPages(ctx, db, cfg, *signUp)
	if err != nil {
		return err
	}
	cfg.Mount, cfg.Outcomes = pages.Mount, db
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "likeness serving on %s (data %s)\n", *publicURL, *data)
	if *demo {
		fmt.Fprintf(stdout, "demo: %s/demo (application %s)\n", *publicURL, cfg.DemoPublicID)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
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
	db, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	app, sec, err := db.CreateApp(ctx, likeness.AppCreate{Name: *name, Origins: origins, WebhookURL: *webhook})
	if err != nil {
		var le *likeness.Error
		if errors.As(err, &le) {
			return errors.New(le.Message)
		}
		return err
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
