package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
)

// defaultKeyRotation is how old the signing key may grow before serve
// replaces it (serve --key-rotation).
const defaultKeyRotation = 30 * 24 * time.Hour

// runKeys is `likeness keys rotate`: a new signing key signs from now on;
// the previous one stays in the JWKS until its tokens have expired.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return usageError("usage: likeness keys rotate --data DIR [--json]")
	}
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	data := fs.String("data", "", "data directory (embedded store)")
	sl := storeFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	db, err := openStoreAt(ctx, sl.at(*data), false)
	if err != nil {
		return err
	}
	defer db.Close()
	kid, err := db.RotateSigningKey(likeness.WithActor(ctx, "cli:keys-rotate"))
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"kid": kid, "previousKeysPublishedFor": likeness.KeyGrace.String()})
	}
	fmt.Fprintf(stdout, "new signing key %s signs from now on; the previous key stays in the JWKS for %s, until its tokens have expired\n",
		kid, likeness.KeyGrace)
	return nil
}

// maintainKeys rotates the signing key when it is maxAge old (never when
// maxAge is 0) and deletes keys whose tokens have all expired.
func maintainKeys(ctx context.Context, db *sqlite.DB, log *slog.Logger, maxAge time.Duration, now func() time.Time) {
	if maxAge > 0 {
		kid, rotated, err := db.RotateSigningKeyIfOlder(likeness.WithActor(ctx, "system:key-rotation"), maxAge)
		if err != nil {
			log.Error("signing key rotation", "err", err)
		} else if rotated {
			log.Info("signing key rotated", "kid", kid)
		}
	}
	if n, err := db.PurgeSigningKeys(ctx, now().Add(-likeness.KeyGrace)); err != nil {
		log.Error("signing key purge", "err", err)
	} else if n > 0 {
		log.Info("retired signing keys deleted", "keys", n)
	}
}

// runKeyMaintenance runs maintainKeys at start and then every hour (more
// often for short rotation periods) until ctx ends.
func runKeyMaintenance(ctx context.Context, db *sqlite.DB, log *slog.Logger, maxAge time.Duration) {
	every := time.Hour
	if maxAge > 0 {
		every = min(every, max(time.Minute, maxAge/10))
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		maintainKeys(ctx, db, log, maxAge, time.Now)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
