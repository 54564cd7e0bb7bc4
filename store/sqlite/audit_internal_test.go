package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

// TestAuditCheckpointUpgrade: a database written before heads carried a MAC
// (migration 0010) verifies after the upgrade, and is then protected.
func TestAuditCheckpointUpgrade(t *testing.T) {
	ctx := context.Background()
	key, _ := crypt.NewDataKey()
	path := filepath.Join(t.TempDir(), "likeness.db")
	db, err := Open(ctx, path, Options{MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Shop", Origins: []string{"https://shop.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateKey(ctx, app.ID, "member"); err != nil {
		t.Fatal(err)
	}
	// What an older version left: plain heads, no checkpoint, and the
	// migration's marker.
	for _, q := range []string{
		`UPDATE meta SET value = CAST((SELECT e.seq || ':' || e.hash FROM audit_events e
			WHERE 'audit_head:' || e.org_id = meta.key ORDER BY e.seq DESC LIMIT 1) AS BLOB) WHERE key LIKE 'audit_head:%'`,
		`DELETE FROM meta WHERE key IN ('audit_checkpoint', 'audit_trail_since')`,
		`DELETE FROM schema_migrations WHERE version = 10`,
	} {
		if _, err := db.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, problems, _ := db.VerifyAudit(ctx, ""); len(problems) == 0 {
		t.Fatal("the legacy state verifies before the upgrade")
	}
	db.Close()

	db, err = Open(ctx, path, Options{MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, problems, err := db.VerifyAudit(ctx, "")
	if err != nil || len(problems) != 0 || n != 2 {
		t.Fatalf("after the upgrade: %d entries, %v, %v", n, problems, err)
	}
	total, hash, ok, err := db.AuditCheckpoint(ctx)
	if err != nil || !ok || total != 2 || hash == "" {
		t.Fatalf("checkpoint %d %q %v %v", total, hash, ok, err)
	}
	// The upgrade ran once: deleting the checkpoint now is reported, and
	// reopening does not make a new one.
	if _, err := db.w.ExecContext(ctx, `DELETE FROM meta WHERE key = 'audit_checkpoint'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(ctx, path, Options{MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, problems, _ := db.VerifyAudit(ctx, ""); len(problems) != 1 {
		t.Fatalf("a deleted checkpoint: %v", problems)
	}
}
