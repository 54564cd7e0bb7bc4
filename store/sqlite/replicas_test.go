package sqlite_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/pgtest"
	"github.com/likeness/likeness/store/sqlite"
)

// Two *sqlite.DB on one PostgreSQL database are two replicas: each has its
// own in-process vector index, its own caches and its own writer mutex;
// they share only the database.

func replicas(t *testing.T) (*fixture, *sqlite.DB, *sqlite.DB) {
	t.Helper()
	if !pgtest.Enabled() {
		t.Skip("several replicas need PostgreSQL: runs in the PostgreSQL run of the tests")
	}
	f := newFixture(t)
	return f, f.open(t), f.open(t)
}

// found reports whether probe's best match in db is id.
func found(t *testing.T, db *sqlite.DB, appID, id string, probe []float32) bool {
	t.Helper()
	m, err := db.Search(ctx, appID, probe, 1)
	if err != nil {
		t.Fatal(err)
	}
	return len(m) == 1 && m[0].FacialID == id
}

// eventually waits up to a second (the feed polls every 250ms) for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a second", what)
		}
	}
}

// TestReplicasShareFaces: a face enrolled through one replica is found
// through the other within a second; erased through the other, it is no
// longer found through the first, and its vector leaves the first's index.
func TestReplicasShareFaces(t *testing.T) {
	_, a, b := replicas(t)
	app, _ := mustApp(t, a, "A")
	r := rand.New(rand.NewPCG(1, 2))
	tmpl := randTemplate(r, 128)
	face := mustEnroll(t, a, app.ID, tmpl)
	eventually(t, "enrolled on A, found on B", func() bool { return found(t, b, app.ID, face.FacialID, tmpl) })
	if n := b.Index().Len(app.CollectionID); n != 1 {
		t.Fatalf("B's index holds %d vectors, want 1", n)
	}
	if err := b.DeleteFace(ctx, app.ID, face.FacialID, likeness.ReasonConsole); err != nil {
		t.Fatal(err)
	}
	// The answer never lags: the erased face is not a match even before A
	// has applied the feed.
	if found(t, a, app.ID, face.FacialID, tmpl) {
		t.Fatal("erased on B, still found on A")
	}
	eventually(t, "erased on B, gone from A's index", func() bool { return a.Index().Len(app.CollectionID) == 0 })

	// Many at once, from both sides, and a third replica started later
	// loads them all.
	var wg sync.WaitGroup
	ids := make([]string, 40)
	tmpls := make([][]float32, len(ids))
	for i := range tmpls {
		tmpls[i] = randTemplate(r, 128)
	}
	for i := range ids {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Go(func() { ids[i] = mustEnroll(t, db, app.ID, tmpls[i]).FacialID })
	}
	wg.Wait()
	for _, db := range []*sqlite.DB{a, b} {
		if err := db.PollFeed(ctx); err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			if !found(t, db, app.ID, id, tmpls[i]) {
				t.Fatalf("face %d not found on a replica", i)
			}
		}
	}
}

// TestReplicasAuditChain: two replicas writing to one organization's audit
// trail at once leave one intact chain.
func TestReplicasAuditChain(t *testing.T) {
	_, a, b := replicas(t)
	app, _ := mustApp(t, a, "A")
	org := app.OrgID
	var wg sync.WaitGroup
	for i := range 60 {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Go(func() {
			if err := db.Audit(ctx, likeness.AuditEntry{OrgID: org, AppID: app.ID, Action: "test.write", Target: fmt.Sprint(i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, db := range []*sqlite.DB{a, b} {
		n, problems, err := db.VerifyAudit(ctx, "")
		if err != nil || len(problems) > 0 {
			t.Fatalf("audit: %v %+v", err, problems)
		}
		if n < 61 {
			t.Fatalf("%d entries, want at least 61", n)
		}
	}
}

// TestReplicasWebhookLeases: each due delivery is claimed by one replica;
// one whose lease ran out (its replica died) is claimed by the other, with
// the same event ID (webhook-id).
func TestReplicasWebhookLeases(t *testing.T) {
	f, a, b := replicas(t)
	app, _, err := a.CreateApp(ctx, likeness.AppCreate{Name: "Shop", Origins: []string{"https://shop.example"},
		WebhookURL: "https://shop.example/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		mustEnroll(t, a, app.ID, randTemplate(r, 64))
	}
	now := f.clock.Now().Add(time.Minute)
	var mu sync.Mutex
	claimed := map[int64]string{}
	var wg sync.WaitGroup
	for i := range 8 {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Go(func() {
			tasks, err := db.ClaimWebhookTasks(ctx, now, now.Add(time.Minute), 5)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, task := range tasks {
				if prev, ok := claimed[task.DeliveryID]; ok {
					t.Errorf("delivery %d claimed twice (%s, %s)", task.DeliveryID, prev, task.Lease)
				}
				claimed[task.DeliveryID] = task.Event.ID
			}
		})
	}
	wg.Wait()
	if len(claimed) < 20 {
		t.Fatalf("%d deliveries claimed, want every one (at least 20)", len(claimed))
	}
	// Replica A "dies" holding its leases: after they expire, B claims the
	// same deliveries with the same webhook-id.
	later := now.Add(2 * time.Minute)
	again, err := b.ClaimWebhookTasks(ctx, later, later.Add(time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(claimed) {
		t.Fatalf("after the leases ran out, %d of %d deliveries claimed again", len(again), len(claimed))
	}
	for _, task := range again {
		if claimed[task.DeliveryID] != task.Event.ID || task.Attempt != 2 {
			t.Fatalf("delivery %d: event %s attempt %d, want event %s attempt 2", task.DeliveryID, task.Event.ID, task.Attempt, claimed[task.DeliveryID])
		}
	}
}

// TestReplicasTokensAndLockouts: a result token accepted by one replica is
// refused by the other, even when both see it at once; PIN failures counted
// by both lock the face for both.
func TestReplicasTokensAndLockouts(t *testing.T) {
	_, a, b := replicas(t)
	exp := time.Now().Add(time.Minute)
	if err := a.UseToken(ctx, "jti-1", exp); err != nil {
		t.Fatal(err)
	}
	wantCode(t, b.UseToken(ctx, "jti-1", exp), likeness.ECONFLICT)
	for i := range 10 {
		jti := fmt.Sprintf("jti-race-%d", i)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, db := range []*sqlite.DB{a, b} {
			wg.Go(func() { errs[j] = db.UseToken(ctx, jti, exp) })
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("token used at once on two replicas: %v, %v", errs[0], errs[1])
		}
	}

	app, _ := mustApp(t, a, "A")
	face := mustEnroll(t, a, app.ID, randTemplate(rand.New(rand.NewPCG(5, 6)), 64))
	const maxFailures = 4
	locked := false
	for i := range maxFailures {
		db := a
		if i%2 == 1 {
			db = b
		}
		var err error
		if locked, err = db.RecordAuthFailure(ctx, app.ID, face.FacialID, maxFailures, time.Hour); err != nil {
			t.Fatal(err)
		}
		if locked != (i == maxFailures-1) {
			t.Fatalf("after %d failures across replicas: locked %v", i+1, locked)
		}
	}
	for _, db := range []*sqlite.DB{a, b} {
		until, err := db.Lockout(ctx, app.ID, face.FacialID)
		if err != nil || until.IsZero() {
			t.Fatalf("lockout not seen by a replica: %v %v", until, err)
		}
	}
}

// TestReplicasAppDeleted: an application deleted through one replica is
// gone for the other at once, though the other had its data key cached.
func TestReplicasAppDeleted(t *testing.T) {
	_, a, b := replicas(t)
	app, _ := mustApp(t, a, "A")
	tmpl := randTemplate(rand.New(rand.NewPCG(7, 8)), 64)
	mustEnroll(t, b, app.ID, tmpl) // B caches the data key
	if err := a.DeleteApp(ctx, app.ID); err != nil {
		t.Fatal(err)
	}
	_, err := b.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: "x", Template: tmpl})
	wantCode(t, err, likeness.ENOTFOUND)
}

// TestCopyToPostgres: a populated SQLite store copied into PostgreSQL
// serves every face, API key and audit entry it had; a second copy into
// the now non-empty database is refused.
func TestCopyToPostgres(t *testing.T) {
	if !pgtest.Enabled() {
		t.Skip("needs PostgreSQL: runs in the PostgreSQL run of the tests")
	}
	lf := newFixture(t)
	lf.path = filepath.Join(t.TempDir(), "likeness.db")
	lite := lf.open(t)
	r := rand.New(rand.NewPCG(9, 10))
	type enrolled struct {
		app, id string
		tmpl    []float32
	}
	var faces []enrolled
	var keys []string
	for i := range 3 {
		app, sec, err := lite.CreateApp(ctx, likeness.AppCreate{Name: fmt.Sprint("App ", i), Origins: []string{"https://shop.example"},
			WebhookURL: "https://shop.example/hooks"})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, sec.APIKey)
		for range 30 {
			tmpl := randTemplate(r, 128)
			faces = append(faces, enrolled{app.ID, mustEnroll(t, lite, app.ID, tmpl).FacialID, tmpl})
		}
	}
	if err := lite.DeleteFace(ctx, faces[0].app, faces[0].id, likeness.ReasonConsole); err != nil {
		t.Fatal(err)
	}
	erased := faces[0]
	faces = faces[1:]

	pf := newFixture(t)
	pf.key = lf.key
	pg := pf.open(t)
	rep, err := lite.CopyTo(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows["faces"] != int64(len(faces)) {
		t.Fatalf("copied %d faces, want %d", rep.Rows["faces"], len(faces))
	}
	if _, err := lite.CopyTo(ctx, pg); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Fatalf("second copy into a non-empty database: %v", err)
	}
	pg.Close()

	pg = pf.open(t) // as a server starting on the copy
	n, problems, err := pg.VerifyAudit(ctx, "")
	if err != nil || len(problems) > 0 || n == 0 {
		t.Fatalf("audit after copy: %d entries, %v %+v", n, err, problems)
	}
	es, err := pg.AuditEntries(ctx, "", 0, 1000)
	if err != nil || len(es) == 0 || es[len(es)-1].Action != "store.copied" {
		t.Fatalf("the copy is not audited: %v %+v", err, es)
	}
	for _, k := range keys {
		if _, err := pg.VerifyAPIKey(ctx, k); err != nil {
			t.Fatalf("API key after copy: %v", err)
		}
	}
	for i, f := range faces {
		if !found(t, pg, f.app, f.id, f.tmpl) {
			t.Fatalf("face %d not found after copy", i)
		}
	}
	if found(t, pg, erased.app, erased.id, erased.tmpl) {
		t.Fatal("a face erased before the copy is found after it")
	}
	// New rows after the copy get fresh identities (sequences moved on).
	mustEnroll(t, pg, faces[0].app, randTemplate(r, 128))
	if tasks, err := pg.ClaimWebhookTasks(ctx, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour), 500); err != nil || len(tasks) == 0 {
		t.Fatalf("webhook deliveries after copy: %d, %v", len(tasks), err)
	}
	// A store with another master key refuses the copy's database.
	other := *pf
	other.key = make([]byte, 32)
	if _, err := sqlite.Open(ctx, other.path, sqlite.Options{MasterKey: other.key}); err == nil {
		t.Fatal("opened the copy with another master key")
	}
}

// TestReplicasRotateOnce: replicas that find the signing key old at the
// same time rotate it once.
func TestReplicasRotateOnce(t *testing.T) {
	f, a, b := replicas(t)
	if _, _, err := a.SigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(31 * 24 * time.Hour)
	var wg sync.WaitGroup
	for _, db := range []*sqlite.DB{a, b, a, b} {
		wg.Go(func() {
			if _, _, err := db.RotateSigningKeyIfOlder(ctx, 30*24*time.Hour); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	keys, err := a.VerificationKeys(ctx, time.Time{})
	if err != nil || len(keys) != 2 {
		t.Fatalf("%d keys after concurrent rotations, want 2 (one rotation): %v", len(keys), err)
	}
}

// TestReplicasStartTogether: replicas starting at once on an empty
// database migrate it once (the migrations run under an advisory lock);
// a replica with another master key refuses to start.
func TestReplicasStartTogether(t *testing.T) {
	if !pgtest.Enabled() {
		t.Skip("several replicas need PostgreSQL: runs in the PostgreSQL run of the tests")
	}
	f := newFixture(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			db, err := sqlite.Open(ctx, f.path, sqlite.Options{MasterKey: f.key})
			if err != nil {
				t.Error(err)
				return
			}
			db.Close()
		})
	}
	wg.Wait()
	var n int
	if err := f.raw(t).QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("schema_migrations: %d rows, %v", n, err)
	}
	entries, _ := os.ReadDir("migrations_postgres")
	if n != len(entries) {
		t.Fatalf("schema_migrations has %d rows for %d files", n, len(entries))
	}
	other := make([]byte, 32)
	other[0] = 1
	if _, err := sqlite.Open(ctx, f.path, sqlite.Options{MasterKey: other}); err == nil || !strings.Contains(err.Error(), "master key does not match") {
		t.Fatalf("a replica with another master key: %v", err)
	}
}
