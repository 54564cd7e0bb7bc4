package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
)

// runMigrate is `likeness migrate`: it copies an embedded deployment (the
// SQLite store of a data directory) into an empty PostgreSQL database, as
// stored (sealed data stays sealed with the same master key), then opens
// the copy as a server would (every template is decrypted into the index),
// verifies its audit trail and, with Weaviate, fills the vector store.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	from := fs.String("from", "", "data directory of the embedded deployment to copy (its likeness.db and master.key)")
	to := fs.String("to", "", "URL postgres://… of an empty PostgreSQL database")
	keyFile := fs.String("master-key-file", "", "the master key of the data directory, which the servers on PostgreSQL then use too (default: FROM/master.key, or $LIKENESS_MASTER_KEY_FILE)")
	vc := vectorFlags(fs) // index.go
	wv := fs.String("weaviate", "", "Weaviate REST URL to fill with the copied faces: short for --vector-store weaviate --weaviate-url URL")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usageError("usage: likeness migrate --from DATA_DIR --to postgres://… [--weaviate URL] [--json]")
	}
	if !sqlite.IsPostgresURL(*to) {
		return usageError("--to must be a postgres:// or postgresql:// URL")
	}
	if *wv != "" {
		vc.store, vc.url = storeWeaviate, *wv
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src, err := openStoreAt(ctx, storeLoc{dir: *from, keyFile: *keyFile}, false)
	if err != nil {
		return err
	}
	defer src.Close()
	vi, closeVI, err := vc.open(ctx, log)
	if err != nil {
		return err
	}
	defer closeVI() // after the store
	dstLoc := storeLoc{dir: *from, database: *to, keyFile: *keyFile}
	dst, err := openStoreAt(ctx, dstLoc, true, vc.with(vi, log)) // makes the schema
	if err != nil {
		return err
	}
	rep, err := src.CopyTo(likeness.WithActor(ctx, "cli:migrate"), dst)
	dst.Close()
	if err != nil {
		return cliError(err)
	}
	// Open the copy as a server does: every template is opened again.
	dst, err = openStoreAt(ctx, dstLoc, false, vc.with(vi, log))
	if err != nil {
		return fmt.Errorf("the copy does not open: %w", err)
	}
	defer dst.Close()
	entries, problems, err := dst.VerifyAudit(ctx, "")
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "%s #%d: %s\n", p.OrgID, p.Seq, p.Problem)
		}
		return errAuditBroken(len(problems))
	}
	if vc.store == storeWeaviate {
		if _, err := dst.RebuildIndex(ctx); err != nil {
			return fmt.Errorf("the copy is in PostgreSQL, but the vector store was not filled (run `likeness index rebuild --database …`): %w", err)
		}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"rows": rep.Rows, "auditEntries": entries, "auditOk": true})
	}
	for _, t := range slices.Sorted(maps.Keys(rep.Rows)) {
		fmt.Fprintf(stdout, "%-20s %d rows\n", t, rep.Rows[t])
	}
	fmt.Fprintf(stdout, "audit trail intact: %d entries\n", entries)
	fmt.Fprintf(stdout, "start the servers with --database URL and the master key of %s (--master-key-file or LIKENESS_MASTER_KEY_FILE)\n", *from)
	return nil
}
