package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
)

const orgUsage = "usage: likeness org restore --data DIR --org ORG_ID [--json]\n" +
	"  restores an organization deleted less than 90 days ago: members, applications and their settings;\n" +
	"  no face (biometrics were erased at deletion), no API key and no webhook endpoint"

// runOrg is `likeness org restore`: the operator's way to undo an
// organization's deletion within likeness.OrgRetention.
func runOrg(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("org restore", flag.ContinueOnError)
	data := fs.String("data", "", "data directory (embedded store)")
	sl := storeFlags(fs)
	org := fs.String("org", "", "ID of the deleted organization (org_…, in the deletion's audit entry and export)")
	asJSON := fs.Bool("json", false, "print JSON")
	if len(args) == 0 || args[0] != "restore" {
		return usageError(orgUsage)
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *org == "" {
		return usageError(orgUsage)
	}
	db, err := openStoreAt(ctx, sl.at(*data), false)
	if err != nil {
		return err
	}
	defer db.Close()
	o, err := db.RestoreOrg(likeness.WithActor(ctx, "system:org-restore-cli"), *org)
	if err != nil {
		var le *likeness.Error
		if errors.As(err, &le) {
			return errors.New(le.Message)
		}
		return err
	}
	members, err := db.Members(ctx, o.ID)
	if err != nil {
		return err
	}
	apps, err := db.OrgApps(ctx, o.ID)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"orgId": o.ID, "name": o.Name, "members": len(members), "applications": len(apps)})
	}
	fmt.Fprintf(stdout, "organization %q restored: %d member(s), %d application(s); no faces, make new API keys and webhook endpoints in the console\n",
		o.Name, len(members), len(apps))
	return nil
}

// runOrgJobs finishes organization deletions (destroys keys once the
// deletion webhooks are delivered) and purges organizations deleted more
// than 90 days ago, at start and every interval, until ctx ends.
func runOrgJobs(ctx context.Context, db *sqlite.DB, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := db.FinishOrgDeletions(ctx, likeness.DeletionKeyWait); err != nil {
			log.Error("organization deletion: destroying keys", "err", err)
		} else if n > 0 {
			log.Info("organization deletion: keys destroyed", "organizations", n)
		}
		if n, err := db.PurgeDeletedOrgs(ctx, likeness.OrgRetention); err != nil {
			log.Error("organization deletion: purge", "err", err)
		} else if n > 0 {
			log.Info("organization deletion: purged", "organizations", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
