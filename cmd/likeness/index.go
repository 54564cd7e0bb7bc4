package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
	"github.com/likeness/likeness/store/weaviate"
)

// Vector stores.
const (
	storeEmbedded = "embedded"
	storeWeaviate = "weaviate"
)

// vectorConfig is the vector-store configuration shared by serve, index and
// bench.
type vectorConfig struct {
	store      string
	url        string
	keyFile    string
	class      string
	ef         int
	syncEvery  time.Duration
	compactEvy time.Duration
}

// vectorFlags registers the vector-store flags.
func vectorFlags(fs *flag.FlagSet) *vectorConfig {
	vc := &vectorConfig{}
	fs.StringVar(&vc.store, "vector-store", storeEmbedded, "where face vectors live: embedded (in process) or weaviate")
	fs.StringVar(&vc.url, "weaviate-url", os.Getenv("LIKENESS_WEAVIATE_URL"), "Weaviate REST URL, e.g. http://127.0.0.1:8080 ($LIKENESS_WEAVIATE_URL)")
	fs.StringVar(&vc.keyFile, "weaviate-api-key-file", os.Getenv("LIKENESS_WEAVIATE_API_KEY_FILE"), "file holding the Weaviate API key ($LIKENESS_WEAVIATE_API_KEY_FILE)")
	fs.StringVar(&vc.class, "weaviate-class", weaviate.DefaultClass, "Weaviate class holding the collections")
	fs.IntVar(&vc.ef, "weaviate-ef", weaviate.DefaultEF, "HNSW search breadth for a new class")
	fs.DurationVar(&vc.syncEvery, "index-sync-interval", 30*time.Second, "how often index changes that failed are retried")
	fs.DurationVar(&vc.compactEvy, "index-compact-interval", time.Hour, "how often erasures are made physical in the vector store")
	return vc
}

// open returns the configured vector index: nil for the embedded one (the
// store makes its own), and a function that closes it.
func (vc *vectorConfig) open(ctx context.Context, log *slog.Logger) (likeness.VectorIndex, func(), error) {
	switch vc.store {
	case storeEmbedded:
		return nil, func() {}, nil
	case storeWeaviate:
	default:
		return nil, nil, usageError("--vector-store must be embedded or weaviate")
	}
	if vc.url == "" {
		return nil, nil, usageError("--vector-store weaviate needs --weaviate-url")
	}
	var key string
	if vc.keyFile != "" {
		b, err := os.ReadFile(vc.keyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("weaviate API key: %w", err)
		}
		key = strings.TrimSpace(string(b))
		if key == "" {
			return nil, nil, errors.New("weaviate API key: the file is empty")
		}
	}
	ix, err := weaviate.Open(ctx, weaviate.Options{URL: vc.url, APIKey: key, Class: vc.class, EF: vc.ef, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return ix, func() { ix.Close() }, nil
}

// with returns the store option that installs the vector index.
func (vc *vectorConfig) with(vi likeness.VectorIndex, log *slog.Logger) func(*sqlite.Options) {
	return func(o *sqlite.Options) { o.Index, o.Logger = vi, log }
}

// maintainIndex retries journaled index changes every syncEvery and makes
// erasures physical every compactEvery, until ctx ends.
func maintainIndex(ctx context.Context, db *sqlite.DB, log *slog.Logger, syncEvery, compactEvery time.Duration) {
	syncT := time.NewTicker(syncEvery)
	defer syncT.Stop()
	compactT := time.NewTicker(compactEvery)
	defer compactT.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-syncT.C:
			if err := db.SyncIndex(ctx); err != nil && ctx.Err() == nil {
				log.Warn("vector index sync", "err", err)
			}
		case <-compactT.C:
			start := time.Now()
			if err := db.CompactIndex(ctx); err != nil && ctx.Err() == nil {
				log.Warn("vector index compaction", "err", err)
			} else if ctx.Err() == nil {
				log.Info("vector index compaction", "ms", time.Since(start).Milliseconds())
			}
		}
	}
}

// startIndexMaintenance runs maintainIndex in a goroutine; the returned
// function stops it and waits for it.
func startIndexMaintenance(ctx context.Context, db *sqlite.DB, log *slog.Logger, vc *vectorConfig) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		maintainIndex(ctx, db, log, max(time.Second, vc.syncEvery), max(time.Second, vc.compactEvy))
	}()
	return func() { cancel(); <-done }
}

func runIndex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: likeness index rebuild|compact --data DIR [--vector-store embedded|weaviate --weaviate-url URL --weaviate-api-key-file FILE] [--json]"
	if len(args) == 0 || (args[0] != "rebuild" && args[0] != "compact") {
		return usageError(use)
	}
	fs := flag.NewFlagSet("index "+args[0], flag.ContinueOnError)
	data := fs.String("data", "", "data directory (embedded store)")
	sl := storeFlags(fs)
	vc := vectorFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	vi, closeVI, err := vc.open(ctx, log)
	if err != nil {
		return err
	}
	defer closeVI()
	start := time.Now()
	db, err := openStoreAt(ctx, sl.at(*data), false, vc.with(vi, log))
	if err != nil {
		return err
	}
	defer db.Close()
	if args[0] == "compact" {
		if err := db.CompactIndex(ctx); err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"compacted": true, "seconds": time.Since(start).Seconds()})
		}
		fmt.Fprintf(stdout, "erasures made physical in %s\n", time.Since(start).Round(time.Millisecond))
		return nil
	}
	rep, err := db.RebuildIndex(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{
			"collections": rep.Collections, "faces": rep.Faces, "added": rep.Added, "removed": rep.Removed,
			"dropped": rep.Dropped, "seconds": time.Since(start).Seconds(),
		})
	}
	fmt.Fprintf(stdout, "%d collections, %d faces: %d added, %d removed, %d collections dropped (%s)\n",
		rep.Collections, rep.Faces, rep.Added, rep.Removed, rep.Dropped, time.Since(start).Round(time.Millisecond))
	return nil
}
