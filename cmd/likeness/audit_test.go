package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/likeness/likeness"
)

// TestAuditVerifyDetectsTampering edits the SQLite file behind the store's
// back and checks that `likeness audit verify` reports each kind of change.
func TestAuditVerifyDetectsTampering(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", filepath.Join(dir, "master.key"))
	ctx := context.Background()
	db, err := createStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Audited", Origins: []string{"https://a.example"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if _, _, err := db.CreateKey(ctx, app.ID, "member"); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	verify := func() (string, error) {
		var out bytes.Buffer
		err := run(ctx, []string{"audit", "verify", "--data", dir}, &out, &out)
		return out.String(), err
	}
	if out, err := verify(); err != nil || !strings.Contains(out, "intact: 5 entries") {
		t.Fatalf("untouched chain: %v %s", err, out)
	}

	raw, err := sql.Open("sqlite", filepath.Join(dir, "likeness.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	exec := func(q string) {
		if _, err := raw.Exec(q); err != nil {
			panic(q + ": " + err.Error()) // a broken fixture, not a finding
		}
	}
	for _, tc := range []struct {
		name, tamper, undo, want string
	}{
		{"edited entry", `UPDATE audit_events SET actor = 'console:mallory' WHERE seq = 2`,
			`UPDATE audit_events SET actor = 'system' WHERE seq = 2`, "modified"},
		{"deleted entry", `CREATE TABLE saved AS SELECT * FROM audit_events WHERE seq = 3; DELETE FROM audit_events WHERE seq = 3`,
			`INSERT INTO audit_events SELECT * FROM saved; DROP TABLE saved`, "missing or reordered"},
		{"deleted newest entry", `CREATE TABLE saved AS SELECT * FROM audit_events WHERE seq = 5; DELETE FROM audit_events WHERE seq = 5`,
			`INSERT INTO audit_events SELECT * FROM saved; DROP TABLE saved`, "removed"},
		{"reordered entries", `UPDATE audit_events SET seq = seq + 100 WHERE seq IN (2, 3); UPDATE audit_events SET seq = 3 WHERE seq = 102; UPDATE audit_events SET seq = 2 WHERE seq = 103`,
			`UPDATE audit_events SET seq = seq + 100 WHERE seq IN (2, 3); UPDATE audit_events SET seq = 3 WHERE seq = 102; UPDATE audit_events SET seq = 2 WHERE seq = 103`, "broken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec(tc.tamper)
			out, err := verify()
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("tampering not reported (%v): %s", err, out)
			}
			exec(tc.undo)
			if out, err := verify(); err != nil {
				t.Fatalf("after undo: %v %s", err, out)
			}
		})
	}
}

// TestAuditVerifyDetectsTruncation deletes the newest entries, or every
// entry, and rewrites what records the chain's end: verify still fails.
func TestAuditVerifyDetectsTruncation(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", filepath.Join(dir, "master.key"))
	ctx := context.Background()
	db, err := createStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Audited", Origins: []string{"https://a.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateKey(ctx, app.ID, "member"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", filepath.Join(dir, "likeness.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	exec := func(q string) {
		if _, err := raw.Exec(q); err != nil {
			panic(q + ": " + err.Error()) // a broken fixture, not a finding
		}
	}
	// What an attacker saved while the trail had 2 entries: its head and
	// checkpoint, both under a valid MAC.
	exec(`CREATE TABLE old_meta AS SELECT * FROM meta WHERE key LIKE 'audit_%'`)

	db, err = openStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, _, err := db.CreateKey(ctx, app.ID, "member"); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	verify := func() (string, error) {
		var out bytes.Buffer
		err := run(ctx, []string{"audit", "verify", "--data", dir}, &out, &out)
		return out.String(), err
	}
	if out, err := verify(); err != nil || !strings.Contains(out, "intact: 5 entries") || !strings.Contains(out, "checkpoint") {
		t.Fatalf("untouched chain: %v %s", err, out)
	}
	exec(`CREATE TABLE saved AS SELECT * FROM audit_events; CREATE TABLE saved_meta AS SELECT * FROM meta WHERE key LIKE 'audit_%'`)
	undo := `DELETE FROM audit_events; INSERT INTO audit_events SELECT * FROM saved;
		DELETE FROM meta WHERE key LIKE 'audit_%'; INSERT INTO meta SELECT * FROM saved_meta`
	for _, tc := range []struct{ name, tamper, want string }{
		{"newest entries deleted, head rewritten in the old format",
			`DELETE FROM audit_events WHERE seq > 3;
			 UPDATE meta SET value = CAST((SELECT seq || ':' || hash FROM audit_events WHERE seq = 3) AS BLOB) WHERE key LIKE 'audit_head:%'`,
			"head of the chain was altered"},
		{"newest entries deleted, head rewritten with a made-up MAC",
			`DELETE FROM audit_events WHERE seq > 3;
			 UPDATE meta SET value = CAST((SELECT seq || ':' || hash || ':' || hash FROM audit_events WHERE seq = 3) AS BLOB) WHERE key LIKE 'audit_head:%'`,
			"head of the chain was altered"},
		{"newest entries deleted, an older authentic head put back",
			`DELETE FROM audit_events WHERE seq > 2;
			 UPDATE meta SET value = (SELECT value FROM old_meta WHERE old_meta.key = meta.key) WHERE key LIKE 'audit_head:%'`,
			"entries were removed"},
		{"every entry and head deleted",
			`DELETE FROM audit_events; DELETE FROM meta WHERE key LIKE 'audit_head:%'`,
			"every entry was removed"},
		{"every entry, head and the checkpoint deleted",
			`DELETE FROM audit_events; DELETE FROM meta WHERE key LIKE 'audit_%'`,
			"checkpoint is missing"},
		{"checkpoint count rewritten",
			`DELETE FROM audit_events WHERE seq > 2;
			 UPDATE meta SET value = (SELECT value FROM old_meta WHERE old_meta.key = meta.key) WHERE key LIKE 'audit_head:%';
			 UPDATE meta SET value = CAST(replace(CAST(value AS TEXT), '"5"', '"2"') AS BLOB) WHERE key = 'audit_checkpoint'`,
			"checkpoint was altered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec(tc.tamper)
			out, err := verify()
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("truncation not reported (%v): %s", err, out)
			}
			exec(undo)
			if out, err := verify(); err != nil {
				t.Fatalf("after undo: %v %s", err, out)
			}
		})
	}
}
