package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
)

// TestRefusalsCounted: sessions refused for their origin are counted in the
// application's analytics once per attempt, on the check (where the widget
// stops) and on the socket (a client that skips the check); so are unknown
// public IDs asked for from the application's origin.
func TestRefusalsCounted(t *testing.T) {
	h := newHarness(t, Limits{}, func(c *Config) { c.Outcomes = c.Apps.(*sqlite.DB) })
	if _, resp, err := h.dial(opEnroll, "https://evil.example"); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a foreign origin was admitted: %v", err)
	}
	req, _ := http.NewRequest("GET", h.ts.URL+"/widget/check?publicId="+h.app.PublicID+"&op=authenticate", nil)
	req.Header.Set("Origin", "https://evil.example")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusForbidden {
		t.Fatalf("/widget/check from a foreign origin: %v %v", r, err)
	}
	// An unknown public ID from this application's origin counts for it
	// (a page of the site with a mistyped ID); from elsewhere, for nobody.
	for _, origin := range []string{testOrigin, "https://evil.example"} {
		req, _ := http.NewRequest("GET", h.ts.URL+"/widget/check?publicId=app_nope&op=enroll", nil)
		req.Header.Set("Origin", origin)
		if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusNotFound {
			t.Fatalf("/widget/check of an unknown public ID: %v %v", r, err)
		}
	}
	// An allowed origin's check is not counted: only sessions are.
	req, _ = http.NewRequest("GET", h.ts.URL+"/widget/check?publicId="+h.app.PublicID+"&op=authenticate", nil)
	req.Header.Set("Origin", testOrigin)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("/widget/check: %v %v", r, err)
	}
	counts, err := h.db.Outcomes(context.Background(), h.app.ID, h.clock.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, oc := range counts {
		got[oc.Op+" "+oc.Outcome] += oc.Count
	}
	want := map[string]int{"enroll " + likeness.FioForbiddenOrigin.String(): 1, "authenticate " + likeness.FioForbiddenOrigin.String(): 1,
		"enroll " + likeness.FioUnauthorized.String(): 1}
	if len(got) != len(want) || got["enroll FORBIDDDEN_ORIGIN"] != 1 || got["authenticate FORBIDDDEN_ORIGIN"] != 1 ||
		got["enroll UNAUTHORIZED"] != 1 {
		t.Errorf("outcomes %v, want %v", got, want)
	}
}
