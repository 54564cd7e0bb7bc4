package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
)

func outboxRows(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (events, deliveries int) {
	t.Helper()
	ctx := context.Background()
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM webhook_events`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries`).Scan(&deliveries); err != nil {
		t.Fatal(err)
	}
	return events, deliveries
}

// TestEmitIsPartOfTheTransaction: an event written by emitTx exists if and
// only if its transaction commits.
func TestEmitIsPartOfTheTransaction(t *testing.T) {
	ctx := context.Background()
	db := OpenTest(t)
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Shop", Origins: []string{"https://shop.example"},
		WebhookURL: "https://shop.example/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	ev := likeness.Event{Type: likeness.EventConsentRecorded, AppID: app.ID, ConsentID: "c1"}
	boom := errors.New("boom")
	err = db.update(ctx, func(tx *sql.Tx) error {
		if err := db.emitTx(ctx, tx, ev); err != nil {
			return err
		}
		if e, d := outboxRows(t, tx); e != 1 || d != 1 {
			t.Fatalf("inside the transaction: %d events, %d deliveries", e, d)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if e, d := outboxRows(t, db.r); e != 0 || d != 0 {
		t.Fatalf("after rollback: %d events, %d deliveries", e, d)
	}

	if err := db.update(ctx, func(tx *sql.Tx) error { return db.emitTx(ctx, tx, ev) }); err != nil {
		t.Fatal(err)
	}
	if e, d := outboxRows(t, db.r); e != 1 || d != 1 {
		t.Fatalf("after commit: %d events, %d deliveries", e, d)
	}
	select {
	case <-db.WebhookWake():
	default:
		t.Error("no wake-up after an emit")
	}

	// Refusals roll back with the change.
	for _, bad := range []likeness.Event{
		{AppID: app.ID},
		{Type: likeness.EventDeleted, AppID: app.ID, FacialID: "f", Reason: "because"},
		{Type: likeness.EventDeleted, AppID: app.ID, FacialID: "f"},
	} {
		if err := db.update(ctx, func(tx *sql.Tx) error { return db.emitTx(ctx, tx, bad) }); err == nil {
			t.Errorf("emit %+v: no error", bad)
		}
	}
	if e, _ := outboxRows(t, db.r); e != 1 {
		t.Fatalf("%d events after refusals", e)
	}
}

// TestEmitWithoutEndpointsWritesNothing: no subscriber, no outbox row.
func TestEmitWithoutEndpointsWritesNothing(t *testing.T) {
	ctx := context.Background()
	db := OpenTest(t)
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "No hooks", Origins: []string{"https://shop.example"}})
	if err != nil {
		t.Fatal(err)
	}
	err = db.update(ctx, func(tx *sql.Tx) error {
		return db.emitTx(ctx, tx, likeness.Event{Type: likeness.EventConsentRecorded, AppID: app.ID, ConsentID: "c1"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if e, d := outboxRows(t, db.r); e != 0 || d != 0 {
		t.Fatalf("%d events, %d deliveries", e, d)
	}
}

// TestOutboxPayloadIsSealed: an opted-in payload is kept sealed with the
// application's data key, bound to its event.
func TestOutboxPayloadIsSealed(t *testing.T) {
	ctx := context.Background()
	db := OpenTest(t)
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Shop", Origins: []string{"https://shop.example"},
		WebhookURL: "https://shop.example/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetWebhookIncludePayload(ctx, app.ID, true); err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"plan":"gold-7731"}`)
	err = db.update(ctx, func(tx *sql.Tx) error {
		return db.emitTx(ctx, tx, likeness.Event{ID: "msg_test1", Type: likeness.EventEnrolled, AppID: app.ID,
			FacialID: "f1", ExternalID: "user-1", Payload: payload})
	})
	if err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := db.r.QueryRowContext(ctx, `SELECT payload_sealed FROM webhook_events WHERE id = 'msg_test1'`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("gold-7731")) {
		t.Fatal("the payload is stored in the clear")
	}
	ak, err := db.appKey(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := crypt.Open(ak.key, sealed, eventPayloadAAD(app.ID, "msg_test1")); err != nil || !bytes.Equal(p, payload) {
		t.Fatalf("open: %q, %v", p, err)
	}
	if _, err := crypt.Open(ak.key, sealed, eventPayloadAAD(app.ID, "msg_other")); err == nil {
		t.Fatal("the sealed payload opens for another event")
	}
}
