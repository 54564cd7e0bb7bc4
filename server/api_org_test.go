package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/likeness/likeness"
)

// TestDeleteOrganizationAPI deletes an organization through the REST API
// with real faces: owner keys only, the exact name to confirm, then no
// face, image or vector entry in the database file or the index, the
// account_deleted webhooks queued, and the API and the widget refuse it.
func TestDeleteOrganizationAPI(t *testing.T) {
	h := newHarness(t, Limits{})
	ctx := context.Background()
	cid := h.app.CollectionID
	if _, err := h.db.CreateWebhookEndpoint(ctx, h.app.ID, likeness.WebhookEndpointCreate{URL: "https://hooks.example/in"}); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := h.db.UpdateCollection(ctx, h.app.ID, likeness.CollectionPatch{StoreImages: &yes}); err != nil {
		t.Fatal(err)
	}
	a := h.enroll(h.apiKey, cid, "user-a", photo(t, "verify/face_recognition/fr_obama/obama.jpg"))
	b := h.enroll(h.apiKey, cid, "user-b", photo(t, "verify/face_recognition/fr_biden/biden.jpg"))
	_, member, err := h.db.CreateKey(ctx, h.app.ID, roleMember)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		method, path, key string
		body              any
		status            int
	}{
		{"GET", "/v1/organization/export", member, nil, http.StatusForbidden},
		{"DELETE", "/v1/organization", member, map[string]string{"confirmName": "Shop"}, http.StatusForbidden},
		{"DELETE", "/v1/organization", "", map[string]string{"confirmName": "Shop"}, http.StatusUnauthorized},
		{"DELETE", "/v1/organization", h.apiKey, map[string]string{"confirmName": "shop"}, http.StatusBadRequest},
		{"DELETE", "/v1/organization", h.apiKey, map[string]string{}, http.StatusBadRequest},
		{"DELETE", "/v1/organization", h.apiKey, `{"confirmName":`, http.StatusBadRequest},
		{"DELETE", "/v1/organization", h.apiKey, nil, http.StatusBadRequest},
	} {
		st, body, _ := h.call(tc.method, tc.path, tc.key, tc.body)
		if st != tc.status || !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s %s %v: %d %s, want %d", tc.method, tc.path, tc.body, st, body, tc.status)
		}
		mustNotContain(t, body)
	}
	if h.faceCount() != 2 {
		t.Fatal("a refused deletion erased faces")
	}

	st, body, hdr := h.call("GET", "/v1/organization/export", h.apiKey, nil)
	if st != 200 || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %s", st, body)
	}
	var x likeness.AccountExport
	if err := json.Unmarshal(body, &x); err != nil || len(x.ConsentRecords) != 2 || len(x.Applications) != 1 || x.Applications[0].Faces != 2 {
		t.Errorf("export: %v %s", err, body)
	}
	// The audit trail names Facial IDs, and the settings the liveness level:
	// mustNotContain's list does not fit; nothing biometric or secret is in it.
	for _, bad := range []string{"user-a", "embedding", "template", "whsec_", h.apiKey, member, "plan"} {
		if strings.Contains(string(body), bad) {
			t.Errorf("the export holds %q", bad)
		}
	}

	st, body, _ = h.call("DELETE", "/v1/organization", h.apiKey, map[string]string{"confirmName": "Shop"})
	var d struct {
		OrganizationID string `json:"organizationId"`
		FacesErased    int    `json:"facesErased"`
	}
	if st != 200 || json.Unmarshal(body, &d) != nil || d.FacesErased != 2 || d.OrganizationID != h.app.OrgID {
		t.Fatalf("delete: %d %s", st, body)
	}

	// Nothing biometric is left in the database file or the vector index.
	raw, err := sql.Open("sqlite", filepath.Join(h.dir, "likeness.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var left, hooks int
	if err := raw.QueryRow(`SELECT (SELECT count(*) FROM faces) + (SELECT count(*) FROM face_images)
		+ (SELECT count(*) FROM webhook_events WHERE payload_sealed IS NOT NULL)`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d faces, images or payloads left (%v)", left, err)
	}
	if n := h.db.Index().Len(cid); n != 0 {
		t.Errorf("%d vector entries left", n)
	}
	if err := raw.QueryRow(`SELECT count(*) FROM webhook_events WHERE type = 'facialid.deleted' AND reason = 'account_deleted'
		AND facial_id IN (?, ?)`, a, b).Scan(&hooks); err != nil || hooks != 2 {
		t.Errorf("%d account_deleted events, want 2 (%v)", hooks, err)
	}

	// The organization cannot be used: no key works, the widget refuses.
	for _, key := range []string{h.apiKey, member} {
		if st, body, _ := h.call("GET", "/v1/collections/"+cid+"/faces", key, nil); st != http.StatusUnauthorized {
			t.Errorf("API after deletion: %d %s", st, body)
		}
	}
	req, _ := http.NewRequest("GET", h.ts.URL+"/widget/check?op=enroll&publicId="+h.app.PublicID, nil)
	req.Header.Set("Origin", testOrigin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Error("the widget still starts for a deleted organization")
	}
}
