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
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/consent"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/server"
	"github.com/likeness/likeness/store/sqlite"
)

// demoAppName names the application `serve --demo` creates and reuses.
const demoAppName = "Likeness demo"

// openStore opens the embedded store in dir, creating dir (0700) and the
// master key (LIKENESS_MASTER_KEY_FILE, default DIR/master.key) as needed.
func openStore(ctx context.Context, dir string) (*sqlite.DB, error) {
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
	return sqlite.Open(ctx, filepath.Join(dir, "likeness.db"), sqlite.Options{Now: time.Now, MasterKey: key})
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
	db, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	eng, err := engine.New(*ecfg)
	if err != nil {
		return err
	}
	defer eng.Close()
	cfg := server.Config{
		PublicURL: *publicURL, Apps: db, Consent: consent.New(db, time.Now), Faces: db, Keys: db,
		Engine: eng, Logger: log, Now: time.Now,
	}
	if *demo {
		app, err := demoApp(ctx, db, *publicURL, ln.Addr().(*net.TCPAddr).Port)
		if err != nil {
			return err
		}
		cfg.DemoPublicID = app.PublicID
	}
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
