package sqlite

import (
	"context"
	"github.com/likeness/likeness/store/pgtest"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/likeness/likeness"
)

func consentRows(t *testing.T, db *DB, appID string) (records, events int) {
	t.Helper()
	ctx := context.Background()
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM consent_records WHERE app_id = ?`, appID).Scan(&records); err != nil {
		t.Fatal(err)
	}
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM webhook_events WHERE app_id = ? AND type = ?`,
		appID, likeness.EventConsentRecorded).Scan(&events); err != nil {
		t.Fatal(err)
	}
	return records, events
}

func template(seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	v := make([]float32, 512)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// TestPendingConsent: the consent.recorded webhook of a pending record is
// held until its enrollment commits; a record whose enrollment failed goes
// with its event, in one transaction, and the audit trail says so.
func TestPendingConsent(t *testing.T) {
	ctx := context.Background()
	db := OpenTest(t)
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Shop", Origins: []string{"https://shop.example"},
		WebhookURL: "https://shop.example/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	due := func(at time.Time) []string {
		tasks, err := db.ClaimWebhookTasks(ctx, at, at.Add(time.Second), 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, task := range tasks {
			out = append(out, task.Event.Type)
		}
		return out
	}
	newRec := func() *likeness.ConsentRecord {
		rec := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: app.ID, Kind: likeness.ConsentWidget, CreatedAt: time.Now(), Pending: true}
		if err := db.CreateConsentRecord(ctx, rec); err != nil {
			t.Fatal(err)
		}
		return rec
	}

	// Enrollment fails: nothing is delivered, nothing stays.
	failed := newRec()
	if got := due(time.Now().Add(time.Minute)); len(got) != 0 {
		t.Fatalf("a pending consent's event was due at once: %v", got)
	}
	if err := db.DiscardConsentRecord(ctx, app.ID, failed.ID); err != nil {
		t.Fatal(err)
	}
	if r, e := consentRows(t, db, app.ID); r != 0 || e != 0 {
		t.Fatalf("after discarding: %d records, %d consent events", r, e)
	}
	if got := due(time.Now().Add(ConsentHold + time.Minute)); len(got) != 0 {
		t.Fatalf("a discarded consent's event was delivered: %v", got)
	}

	// Enrollment succeeds: the event is released with it, in order.
	ok := newRec()
	face, err := db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: ok.ID, Template: template(1)})
	if err != nil {
		t.Fatal(err)
	}
	if got := due(time.Now().Add(time.Second)); len(got) != 2 || got[0] != likeness.EventConsentRecorded || got[1] != likeness.EventEnrolled {
		t.Fatalf("after the enrollment: due %v", got)
	}
	// A record a Facial ID links to is never discarded.
	if err := db.DiscardConsentRecord(ctx, app.ID, ok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ConsentRecord(ctx, app.ID, face.ConsentID); err != nil {
		t.Fatalf("the linked consent record went: %v", err)
	}
	n, problems, err := db.VerifyAudit(ctx, "")
	if err != nil || len(problems) != 0 {
		t.Fatalf("audit: %v %v", problems, err)
	}
	var discarded int
	db.r.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE action = 'consent.discarded' AND target = ?`, failed.ID).Scan(&discarded)
	if discarded != 1 || n == 0 {
		t.Errorf("consent.discarded audited %d times", discarded)
	}
}

// TestErasureOnAFullDisk: with the database unable to grow, enrolling
// fails but erasing a face, by ID or external ID, and discarding a consent
// record still work.
func TestErasureOnAFullDisk(t *testing.T) {
	if pgtest.Enabled() {
		t.Skip("SQLite file store only: PostgreSQL manages its own space")
	}
	ctx := context.Background()
	db := OpenTest(t)
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Shop", Origins: []string{"https://shop.example"},
		WebhookURL: "https://shop.example/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	var faces []*likeness.Face
	for i := range 4 {
		rec := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: app.ID, Kind: likeness.ConsentAPI, CreatedAt: time.Now()}
		if err := db.CreateConsentRecord(ctx, rec); err != nil {
			t.Fatal(err)
		}
		f, err := db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: rec.ID, Template: template(uint64(i)), ExternalID: "p" + string(rune('0'+i))})
		if err != nil {
			t.Fatal(err)
		}
		faces = append(faces, f)
	}
	pending := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: app.ID, Kind: likeness.ConsentWidget, CreatedAt: time.Now(), Pending: true}
	if err := db.CreateConsentRecord(ctx, pending); err != nil {
		t.Fatal(err)
	}
	db.FillForTest(t)
	if _, err := db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: pending.ID, Template: template(9)}); !isFull(err) {
		t.Fatalf("enroll on a full database: %v", err)
	}
	if err := db.DiscardConsentRecord(ctx, app.ID, pending.ID); err != nil {
		t.Fatalf("discarding a consent record on a full disk: %v", err)
	}
	if err := db.DeleteFace(ctx, app.ID, faces[0].FacialID, likeness.ReasonSelfService); err != nil {
		t.Fatalf("erasure on a full disk: %v", err)
	}
	if n, err := db.DeleteFacesByExternalID(ctx, app.ID, faces[1].ExternalID, likeness.ReasonAPI); err != nil || n != 1 {
		t.Fatalf("erasure by external ID on a full disk: %d %v", n, err)
	}
	if err := db.DeleteFace(ctx, app.ID, faces[2].FacialID, likeness.ReasonConsole); err != nil {
		t.Fatalf("a second erasure on a full disk: %v", err)
	}
	for _, f := range faces[:3] {
		if _, err := db.Face(ctx, app.ID, f.FacialID); likeness.ErrorCode(err) != likeness.ENOTFOUND {
			t.Errorf("face %s still there: %v", f.FacialID, err)
		}
	}
	if _, problems, err := db.VerifyAudit(ctx, ""); err != nil || len(problems) != 0 {
		t.Fatalf("audit after erasures on a full disk: %v %v", problems, err)
	}
}
