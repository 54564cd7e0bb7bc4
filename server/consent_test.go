package server

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/likeness/likeness"
)

// consentLeft counts the application's consent records and consent.recorded
// events in the database file.
func (h *harness) consentLeft() (records, events int) {
	h.t.Helper()
	raw, err := sql.Open("sqlite", filepath.Join(h.dir, "likeness.db")+"?mode=ro")
	if err != nil {
		h.t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.QueryRow(`SELECT count(*) FROM consent_records WHERE app_id = ?`, h.app.ID).Scan(&records); err != nil {
		h.t.Fatal(err)
	}
	if err := raw.QueryRow(`SELECT count(*) FROM webhook_events WHERE app_id = ? AND type = ?`, h.app.ID, likeness.EventConsentRecorded).Scan(&events); err != nil {
		h.t.Fatal(err)
	}
	return records, events
}

// TestAbandonedEnrollmentLeavesNoConsent: consent is recorded before the
// first frame, and goes again when the session ends without a Facial ID.
func TestAbandonedEnrollmentLeavesNoConsent(t *testing.T) {
	h := newHarness(t, Limits{})
	if _, err := h.db.CreateWebhookEndpoint(context.Background(), h.app.ID, likeness.WebhookEndpointCreate{URL: "https://shop.example/hooks"}); err != nil {
		t.Fatal(err)
	}
	c, _, err := h.dial(opEnroll, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	c.begin(opEnroll, nil) // accepts the notice; the server asks for frames
	if r, e := h.consentLeft(); r != 1 || e != 1 {
		t.Fatalf("before the first frame: %d consent records, %d events; want the record made", r, e)
	}
	c.conn.Close() // the person closes the widget
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, e := h.consentLeft()
		if r == 0 && e == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after an abandoned enrollment: %d consent records, %d consent.recorded events", r, e)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if h.faceCount() != 0 {
		t.Fatal("a face was stored")
	}
}

// TestAPIEnrollOnAFullDisk: a REST enrollment that fails for lack of space
// leaves no consent record, and erasure still works on the full disk.
func TestAPIEnrollOnAFullDisk(t *testing.T) {
	h := newHarness(t, Limits{})
	key, cid := h.apiKey, h.app.CollectionID
	fid := h.enroll(key, cid, "keep", photo(t, "verify/face_recognition/fr_obama/obama.jpg"))
	h.db.FillForTest(t)
	st, body, _ := h.call("POST", "/v1/collections/"+cid+"/faces", key, map[string]any{
		"images": []string{photo(t, "verify/face_recognition/fr_biden/biden.jpg")}, "consent": consentJSON(),
	})
	if st != http.StatusServiceUnavailable || !strings.Contains(string(body), "no storage space left") {
		t.Fatalf("enroll on a full disk: %d %s", st, body)
	}
	mustNotContain(t, body, "disk is full", "(13)")
	if r, _ := h.consentLeft(); r != 1 {
		t.Fatalf("%d consent records after a failed enrollment, want only the enrolled face's", r)
	}
	if st, body, _ := h.call("DELETE", "/v1/collections/"+cid+"/faces/"+fid, key, nil); st != http.StatusNoContent && st != http.StatusOK {
		t.Fatalf("erasure on a full disk: %d %s", st, body)
	}
	if h.faceCount() != 0 {
		t.Fatal("the face is still there")
	}
}
