package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
)

// errAuditBroken makes `audit verify` exit non-zero.
type errAuditBroken int

func (e errAuditBroken) Error() string {
	return fmt.Sprintf("the audit trail is broken: %d problems", int(e))
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return usageError("usage: likeness audit verify --data DIR [--org ID] [--json]")
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	data := fs.String("data", "", "data directory (embedded store)")
	sl := storeFlags(fs)
	org := fs.String("org", "", "only this organization")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	db, err := openStoreAt(ctx, sl.at(*data), false)
	if err != nil {
		return err
	}
	defer db.Close()
	n, problems, err := db.VerifyAudit(ctx, *org)
	if err != nil {
		return err
	}
	// The checkpoint (entries in every chain, newest entry's hash) is printed
	// so that it can be kept outside the server and compared later: a
	// rollback of the whole database file shows only against such a copy.
	total, hash, cpOK, err := db.AuditCheckpoint(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		out := map[string]any{"entries": n, "ok": len(problems) == 0, "problems": problems}
		if cpOK && *org == "" {
			out["checkpoint"] = map[string]any{"entries": total, "hash": hash}
		}
		if err := json.NewEncoder(stdout).Encode(out); err != nil {
			return err
		}
	} else {
		for _, p := range problems {
			fmt.Fprintf(stdout, "%s #%d: %s\n", p.OrgID, p.Seq, p.Problem)
		}
		if len(problems) == 0 {
			fmt.Fprintf(stdout, "audit trail intact: %d entries\n", n)
			if cpOK && *org == "" {
				fmt.Fprintf(stdout, "checkpoint: %d entries, newest %s\n", total, hash)
			}
		}
	}
	if len(problems) > 0 {
		return errAuditBroken(len(problems))
	}
	return nil
}
