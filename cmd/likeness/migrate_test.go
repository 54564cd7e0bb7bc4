package main

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/store/pgtest"
	"github.com/likeness/likeness/store/sqlite"
	"github.com/likeness/likeness/store/weaviate"
	"github.com/likeness/likeness/store/weaviate/weaviatetest"
)

// TestMigrateCommand: `likeness migrate` moves a populated data directory
// to PostgreSQL; every Facial ID is found afterwards by a server opening
// the database with the same master key, the audit trail is intact, and a
// second migration into the same database, or bad flags, are refused.
func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", "")
	t.Setenv("LIKENESS_DATABASE_URL", "")
	ctx := context.Background()
	db, err := createStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, m, err := db.CreateAccount(ctx, likeness.AccountCreate{Email: "ann@example.com", PasswordHash: "x", OrgName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	app, sec, err := db.CreateApp(ctx, likeness.AppCreate{OrgID: m.Org.ID, Name: "Shop", Origins: []string{"https://shop.example"},
		WebhookURL: "https://shop.example/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	faces := map[string][]float32{}
	for range 25 {
		tmpl := make([]float32, 512)
		for i := range tmpl {
			tmpl[i] = float32(r.NormFloat64())
		}
		rec := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: app.ID, Kind: likeness.ConsentAPI, CreatedAt: time.Now()}
		if err := db.CreateConsentRecord(ctx, rec); err != nil {
			t.Fatal(err)
		}
		f, err := db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: rec.ID, Template: tmpl, Payload: []byte(`{"tier":"gold"}`)})
		if err != nil {
			t.Fatal(err)
		}
		faces[f.FacialID] = tmpl
	}
	db.Close()

	url := pgtest.NewDatabase(t)
	migrate := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"migrate"}, args...), &out, &out)
		return out.String(), err
	}
	for _, args := range [][]string{nil, {"--from", dir}, {"--to", url}, {"--from", dir, "--to", filepath.Join(dir, "x.db")}} {
		var ue usageError
		if _, err := migrate(args...); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	if out, err := migrate("--help"); err != nil || !strings.Contains(out, "likeness migrate") || !strings.Contains(out, "--to") {
		t.Errorf("--help: %v %q", err, out)
	}
	// A reading command on the empty database creates nothing.
	var rout bytes.Buffer
	if err := run(ctx, []string{"audit", "verify", "--database", url, "--master-key-file", filepath.Join(dir, "master.key")}, &rout, &rout); err == nil ||
		!strings.Contains(err.Error(), "no Likeness database") {
		t.Fatalf("audit verify on an empty database: %v", err)
	}
	out, err := migrate("--from", dir, "--to", url)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "audit trail intact") || !strings.Contains(out, "faces                25 rows") {
		t.Fatalf("report: %s", out)
	}
	if out, err := migrate("--from", dir, "--to", url); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("second migration: %v %s", err, out)
	}

	// A server on PostgreSQL with the data directory's master key.
	key, err := crypt.LoadMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	pg, err := sqlite.Open(ctx, url, sqlite.Options{MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if got, err := pg.VerifyAPIKey(ctx, sec.APIKey); err != nil || got.ID != app.ID {
		t.Fatalf("API key after migration: %v", err)
	}
	for id, tmpl := range faces {
		m, err := pg.Search(ctx, app.ID, tmpl, 1)
		if err != nil || len(m) != 1 || m[0].FacialID != id {
			t.Fatalf("face %s after migration: %v %v", id, m, err)
		}
	}
	// `audit verify` works on the database too.
	t.Setenv("LIKENESS_MASTER_KEY_FILE", filepath.Join(dir, "master.key"))
	var vout bytes.Buffer
	if err := run(ctx, []string{"audit", "verify", "--database", url}, &vout, &vout); err != nil || !strings.Contains(vout.String(), "intact") {
		t.Fatalf("audit verify --database: %v %s", err, vout.String())
	}
	// Into another database, filling Weaviate: a server on that database
	// with Weaviate as its vector store finds every face.
	ws := weaviatetest.New(t)
	wkey := filepath.Join(t.TempDir(), "weaviate.key")
	if err := os.WriteFile(wkey, []byte(ws.APIKey), 0o600); err != nil {
		t.Fatal(err)
	}
	url2 := pgtest.NewDatabase(t)
	if out, err := migrate("--from", dir, "--to", url2, "--weaviate", ws.URL, "--weaviate-api-key-file", wkey); err != nil {
		t.Fatalf("migrate to Weaviate: %v\n%s", err, out)
	}
	wx, err := weaviate.Open(ctx, weaviate.Options{URL: ws.URL, APIKey: ws.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	defer wx.Close()
	pw, err := sqlite.Open(ctx, url2, sqlite.Options{MasterKey: key, Index: wx})
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	if n, err := wx.Len(ctx, app.CollectionID); err != nil || n != len(faces) {
		t.Fatalf("Weaviate holds %d vectors after migration, want %d (%v)", n, len(faces), err)
	}
	for id, tmpl := range faces {
		m, err := pw.Search(ctx, app.ID, tmpl, 1)
		if err != nil || len(m) != 1 || m[0].FacialID != id {
			t.Fatalf("face %s in Weaviate after migration: %v %v", id, m, err)
		}
	}

	// Another master key is refused.
	other := filepath.Join(t.TempDir(), "other.key")
	if _, err := crypt.LoadOrCreateMasterKey(other); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"audit", "verify", "--database", url, "--master-key-file", other}, &vout, &vout); err == nil ||
		!strings.Contains(err.Error(), "master key does not match") {
		t.Fatalf("another master key: %v", err)
	}
}
