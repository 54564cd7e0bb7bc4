package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/likeness/likeness"
)

// TestAuditPage: actors in words, targets linked, details as fields,
// filters, paging, and CSV and JSON exports that are themselves audited.
func TestAuditPage(t *testing.T) {
	e := newEnv(t)
	b := e.signUp("ann@example.com", "Acme")
	org := e.org("ann@example.com")
	b.get("/console/apps")
	r := b.post("/console/apps", url.Values{"org": {org}, "name": {"Shop"}, "origins": {"https://shop.example"}})
	pid := publicIDs.FindString(r.location())
	app, err := e.db.AppByPublicID(context.Background(), pid)
	if err != nil {
		t.Fatal(err)
	}
	face := e.enroll(app, "", "")
	const session = "0f8e2a9c-1111-4222-8333-944455556666"
	if err := e.db.Audit(likeness.WithActor(context.Background(), "widget:"+session), likeness.AuditEntry{AppID: app.ID,
		Action: "facialid.enrolled", Target: face.FacialID, Details: json.RawMessage(`{"noticeVersion":2,"locale":"en"}`)}); err != nil {
		t.Fatal(err)
	}
	keys, _ := e.db.ListAPIKeys(context.Background(), app.ID)
	if err := e.db.Audit(likeness.WithActor(context.Background(), "api:"+keys[0].ID), likeness.AuditEntry{AppID: app.ID,
		Action: "facialid.deleted", Target: "gone-face", Details: json.RawMessage(`{"reason":"api"}`)}); err != nil {
		t.Fatal(err)
	}
	audit := "/console/orgs/" + org + "/audit"
	r = b.get(audit)
	check(t, "audit", r, http.StatusOK, []string{
		"Chain verified.",
		`title="console:`, ">ann@example.com<", // the member's email, the raw actor as a hint
		"Widget session 0f8e2a9c",
		"API key " + keys[0].Prefix + "… (owner) of Shop",
		`href="/console/apps/` + pid + `/faces/` + face.FacialID + `"`, // a target linked
		`<dt>notice version</dt><dd class="wrap">2</dd>`,               // details as fields
		`<dt>reason</dt><dd class="wrap">api</dd>`,
		`href="/console/apps/` + pid + `"`,
		`<option value="facialid.enrolled">`,
	}, append([]string{`{&#34;reason`, `/faces/gone-face`}, neverShown...))

	for _, tc := range []struct {
		name, query string
		want, not   []string
	}{
		{"by action", "action=facialid.deleted", []string{"gone-face", `<option value="facialid.deleted" selected>`},
			[]string{"Widget session"}},
		{"by kind of actor", "actor=widget:", []string{"Widget session 0f8e2a9c"}, []string{"gone-face", "<code>application.created</code>"}},
		{"by key", "actor=api:" + keys[0].ID, []string{"gone-face"}, []string{"Widget session"}},
		{"from tomorrow", "from=2025-03-11", []string{"No entry matches this filter.", "Clear the filter"}, []string{"audit-row"}},
		{"the day", "from=2025-03-10&to=2025-03-10", []string{"gone-face", "Widget session"}, nil},
		{"until yesterday", "to=2025-03-09", []string{"No entry matches this filter."}, nil},
	} {
		check(t, tc.name, b.get(audit+"?"+tc.query), http.StatusOK, tc.want, tc.not)
	}
	check(t, "bad date", b.get(audit+"?from=10/03/2025&action=facialid.deleted"), http.StatusBadRequest,
		[]string{"The from date must be a date such as 2025-03-10.", `value="10/03/2025"`, `<option value="facialid.deleted" selected>`}, neverShown)
	check(t, "dates reversed", b.get(audit+"?from=2025-03-10&to=2025-03-01"), http.StatusBadRequest,
		[]string{"must not be after"}, nil)

	// Exports: the filtered entries, newest first; each export is audited.
	r = b.get("/console/orgs/" + org + "/audit/export?format=csv&actor=widget:")
	if r.Code != http.StatusOK || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/csv") ||
		!strings.Contains(r.Header().Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV export: %d %v", r.Code, r.Header())
	}
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][3] != "actor_name" || rows[1][2] != "widget:"+session ||
		rows[1][3] != "Widget session 0f8e2a9c" || rows[1][8] != `{"noticeVersion":2,"locale":"en"}` {
		t.Fatalf("CSV rows: %q %v", rows, err)
	}
	r = b.get("/console/orgs/" + org + "/audit/export?format=json")
	var out struct {
		Entries []auditRecord `json:"entries"`
	}
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || r.Code != http.StatusOK || len(out.Entries) < 5 {
		t.Fatalf("JSON export: %d %v %s", r.Code, err, r.body)
	}
	if first := out.Entries[0]; first.Action != "audit.exported" || first.ActorName != "ann@example.com" {
		t.Errorf("the newest entry of the second export is %+v, want the first export, by ann", first)
	}
	if out.Entries[0].Seq <= out.Entries[1].Seq {
		t.Error("the export is not newest first")
	}
	check(t, "audited export", b.get(audit+"?action=audit.exported"), http.StatusOK,
		[]string{"format", "csv", "filter", "actor=widget%3A", "json"}, nil)
	check(t, "bad format", b.get("/console/orgs/"+org+"/audit/export?format=xml"), http.StatusBadRequest,
		[]string{"csv or json"}, nil)

	// Paging: 50 a page, then older ones.
	for range 60 {
		if err := e.db.Audit(context.Background(), likeness.AuditEntry{AppID: app.ID, Action: "test.fill"}); err != nil {
			t.Fatal(err)
		}
	}
	r = b.get(audit + "?action=test.fill")
	if n := strings.Count(r.body, `data-testid="audit-row"`); n != 50 {
		t.Errorf("first page: %d rows", n)
	}
	older := regexpFind(`href="(/console/orgs/[^"]+/audit\?action=test.fill&amp;before=\d+)"`, r.body)
	if older == "" {
		t.Fatalf("no older page link:\n%s", excerpt(r.body))
	}
	r = b.get(strings.ReplaceAll(older, "&amp;", "&"))
	if n := strings.Count(r.body, `data-testid="audit-row"`); n != 10 || !strings.Contains(r.body, "Newest entries") ||
		strings.Contains(r.body, "Older entries") {
		t.Errorf("second page: %d rows", n)
	}
	// Only owners read it, or export it.
	viewer := e.join(b, org, "vera@example.com", "viewer", nil)
	check(t, "viewer export", viewer.get("/console/orgs/"+org+"/audit/export?format=csv"), http.StatusForbidden, nil, []string{"seq,at"})
}

func regexpFind(pattern, s string) string {
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}
