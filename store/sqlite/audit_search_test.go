package sqlite_test

import (
	"testing"
	"time"

	"github.com/likeness/likeness"
)

// TestAuditSearch: filters by action, actor, kind of actor and time, and
// pages backwards.
func TestAuditSearch(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	app, _ := mustApp(t, db, "Shop")
	start := f.clock.Now()
	for i, e := range []struct{ actor, action string }{
		{"console:usr_a", "app.renamed"}, {"widget:s1", "facialid.enrolled"}, {"widget:s2", "facialid.enrolled"},
		{"api:k1", "facialid.deleted"}, {"console:usr_b", "app.renamed"},
	} {
		f.clock.Advance(time.Hour)
		if err := db.Audit(likeness.WithActor(ctx, e.actor), likeness.AuditEntry{AppID: app.ID, Action: e.action,
			Target: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	org := func() string {
		es, err := db.AuditSearch(ctx, app.OrgID, likeness.AuditFilter{Limit: 1})
		if err != nil || len(es) != 1 {
			t.Fatalf("newest entry: %v %v", es, err)
		}
		return es[0].OrgID
	}()
	targets := func(f likeness.AuditFilter) string {
		t.Helper()
		es, err := db.AuditSearch(ctx, org, f)
		if err != nil {
			t.Fatal(err)
		}
		s := ""
		for _, e := range es {
			if len(e.Target) == 1 { // the entries made here
				s += e.Target
			}
		}
		return s
	}
	for _, tc := range []struct {
		name string
		f    likeness.AuditFilter
		want string
	}{
		{"all, newest first", likeness.AuditFilter{}, "edcba"},
		{"action", likeness.AuditFilter{Action: "app.renamed"}, "ea"},
		{"actor", likeness.AuditFilter{Actor: "widget:s2"}, "c"},
		{"kind of actor", likeness.AuditFilter{Actor: "widget:"}, "cb"},
		{"not a kind: exact", likeness.AuditFilter{Actor: "widget"}, ""},
		{"a LIKE pattern is literal", likeness.AuditFilter{Actor: "widget:%"}, ""},
		{"from", likeness.AuditFilter{From: start.Add(3 * time.Hour)}, "edc"},
		{"to", likeness.AuditFilter{To: start.Add(2 * time.Hour)}, "a"},
		{"both", likeness.AuditFilter{From: start.Add(2 * time.Hour), To: start.Add(4 * time.Hour), Actor: "widget:"}, "cb"},
		{"page", likeness.AuditFilter{Limit: 2}, "ed"},
	} {
		if got := targets(tc.f); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	es, _ := db.AuditSearch(ctx, org, likeness.AuditFilter{Limit: 2})
	if got := targets(likeness.AuditFilter{BeforeSeq: es[1].Seq, Limit: 2}); got != "cb" {
		t.Errorf("older page: %q", got)
	}
	if _, err := db.AuditSearch(ctx, org, likeness.AuditFilter{Limit: 10001}); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Errorf("limit too large: %v", err)
	}
	actions, err := db.AuditActions(ctx, org)
	if err != nil || !contains(actions, "facialid.deleted") || !contains(actions, "app.renamed") {
		t.Errorf("actions: %v %v", actions, err)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestRecordUnknownApp: a request naming an unknown public ID counts for
// the applications that allow its origin exactly, whatever the origin
// holds (LIKE's wildcards are literal, a prefix is not the origin).
func TestRecordUnknownApp(t *testing.T) {
	f := newFixture(t)
	db := f.open(t)
	shop, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Shop", Origins: []string{"https://shop.example", "https://www.shop.example:8443"}})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := mustApp(t, db, "Other") // https://example.com
	for _, o := range []string{"https://shop.example", "https://shop.example", "https://shop.exampl", "https://%", "https://_hop.example",
		"https://www.shop.example:8443", "http://shop.example"} {
		if err := db.RecordUnknownApp(ctx, o, "authenticate"); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.RecordUnknownApp(ctx, "https://shop.example", "delete"); likeness.ErrorCode(err) != likeness.EINVALID {
		t.Errorf("bad op: %v", err)
	}
	count := func(appID string) int {
		t.Helper()
		cs, err := db.Outcomes(ctx, appID, f.clock.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range cs {
			if c.Outcome == "UNAUTHORIZED" && c.Op == "authenticate" {
				n += c.Count
			}
		}
		return n
	}
	if n := count(shop.ID); n != 3 {
		t.Errorf("shop: %d, want 3", n)
	}
	if n := count(other.ID); n != 0 {
		t.Errorf("other: %d, want 0", n)
	}
}
