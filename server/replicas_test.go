package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/likeness/likeness/store/pgtest"
)

// TestTwoServersOnePostgres: two servers share one PostgreSQL database,
// each with its own in-process vector index. A face enrolled through A is
// found through B within a second; erased through B, it is no longer found
// through A; and the audit trail written by both is one intact chain.
func TestTwoServersOnePostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a := newHarnessAt(t, Limits{}, url, nil)
	b := newHarnessAt(t, Limits{}, url, nil)
	b.app, b.apiKey = a.app, a.apiKey // one application, reached through either server
	cid := a.app.CollectionID
	obama := photo(t, "verify/face_recognition/fr_obama/obama.jpg")
	obama2 := photo(t, "verify/face_recognition/fr_obama/obama2.jpg")

	fid := a.enroll(a.apiKey, cid, "user-1", obama)
	search := func(h *harness) (match bool, body string) {
		t.Helper()
		st, raw, _ := h.call("POST", "/v1/collections/"+cid+"/search", h.apiKey, map[string]any{"image": obama2})
		if st != http.StatusOK {
			t.Fatalf("search: %d %s", st, raw)
		}
		mustNotContain(t, raw, "postgres", "pgx")
		var v struct {
			Matches []struct {
				FacialID string `json:"facialId"`
				Match    bool   `json:"match"`
			} `json:"matches"`
		}
		json.Unmarshal(raw, &v)
		for _, m := range v.Matches {
			if m.FacialID == fid && m.Match {
				return true, string(raw)
			}
		}
		return false, string(raw)
	}
	deadline := time.Now().Add(time.Second)
	for {
		if ok, _ := search(b); ok {
			break
		}
		if time.Now().After(deadline) {
			_, body := search(b)
			t.Fatalf("enrolled through A, not found through B within a second: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st, raw, _ := b.call("DELETE", "/v1/collections/"+cid+"/faces/"+fid, b.apiKey, nil); st != http.StatusNoContent && st != http.StatusOK {
		t.Fatalf("erase through B: %d %s", st, raw)
	}
	if ok, body := search(a); ok || strings.Contains(body, fid) {
		t.Fatalf("erased through B, still found through A: %s", body)
	}
	for _, h := range []*harness{a, b} {
		n, problems, err := h.db.VerifyAudit(t.Context(), "")
		if err != nil || len(problems) > 0 || n == 0 {
			t.Fatalf("audit: %d %v %+v", n, err, problems)
		}
	}
}
