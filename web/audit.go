package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/templates"
)

// auditPage is how many audit entries a page shows; auditExportMax how
// many an export holds at most (newest first).
const (
	auditPage      = 50
	auditExportMax = 10000
)

// auditFilter reads the filter of the audit page and its exports from the
// query: action, actor, from and to (dates, to inclusive), before (paging).
// A date that does not parse is an EINVALID naming it; the form keeps it.
func auditFilter(c echo.Context) (templates.AuditFilterForm, likeness.AuditFilter, error) {
	form := templates.AuditFilterForm{Action: c.QueryParam("action"), Actor: c.QueryParam("actor"),
		From: strings.TrimSpace(c.QueryParam("from")), To: strings.TrimSpace(c.QueryParam("to"))}
	f := likeness.AuditFilter{Action: form.Action, Actor: form.Actor}
	if b, err := strconv.ParseInt(c.QueryParam("before"), 10, 64); err == nil && b > 0 {
		f.BeforeSeq = b
	}
	day := func(name, v string) (time.Time, error) {
		if v == "" {
			return time.Time{}, nil
		}
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return time.Time{}, likeness.Errorf(likeness.EINVALID, "The %s date must be a date such as 2025-03-10.", name)
		}
		return d, nil
	}
	var err error
	if f.From, err = day("from", form.From); err != nil {
		return form, f, err
	}
	if f.To, err = day("to", form.To); err != nil {
		return form, f, err
	}
	if !f.To.IsZero() {
		f.To = f.To.AddDate(0, 0, 1) // the whole day
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return form, f, likeness.Errorf(likeness.EINVALID, "The from date must not be after the to date.")
	}
	return form, f, nil
}

// query is the filter as a query string (without paging).
func filterQuery(form templates.AuditFilterForm) string {
	q := url.Values{}
	for k, v := range map[string]string{"action": form.Action, "actor": form.Actor, "from": form.From, "to": form.To} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q.Encode()
}

// handleAudit shows the organization's audit trail, newest first and
// filtered, with the verification of its whole chain. Owners only.
func (h *Handler) handleAudit(c echo.Context, m *likeness.Membership) error {
	ctx := c.Request().Context()
	count, problems, err := h.store.VerifyAudit(ctx, m.Org.ID)
	if err != nil {
		return err
	}
	v := templates.AuditView{Chrome: h.chrome(c, "Audit trail of "+m.Org.Name), Org: orgLink(m), Count: count,
		Verified: len(problems) == 0}
	for _, p := range problems {
		v.Problems = append(v.Problems, "entry "+strconv.FormatInt(p.Seq, 10)+": "+p.Problem)
	}
	form, f, ferr := auditFilter(c)
	v.Filter, v.Query = form, filterQuery(form)
	names, err := h.auditNames(ctx, m)
	if err != nil {
		return err
	}
	if v.Actions, err = h.store.AuditActions(ctx, m.Org.ID); err != nil {
		return err
	}
	v.Actors = names.choices()
	if ferr != nil {
		v.Chrome.Error = likeness.ErrorMessage(ferr)
		return h.render(c, http.StatusBadRequest, templates.AuditPage(v))
	}
	f.Limit = auditPage + 1 // one more tells whether there is an older page
	entries, err := h.store.AuditSearch(ctx, m.Org.ID, f)
	if err != nil {
		return err
	}
	if len(entries) > auditPage {
		entries = entries[:auditPage]
		q, _ := url.ParseQuery(v.Query)
		q.Set("before", strconv.FormatInt(entries[len(entries)-1].Seq, 10))
		v.Older = q.Encode()
	}
	v.Newer = f.BeforeSeq > 0
	for _, e := range entries {
		v.Entries = append(v.Entries, names.row(e))
	}
	return h.render(c, http.StatusOK, templates.AuditPage(v))
}

// auditRecord is one entry of an export: the API's shape (GET /v1/audit)
// with the actor's and the application's names.
type auditRecord struct {
	Seq       int64           `json:"seq"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor"`
	ActorName string          `json:"actorName"`
	Action    string          `json:"action"`
	AppID     string          `json:"appId,omitempty"`
	AppName   string          `json:"appName,omitempty"`
	Target    string          `json:"target,omitempty"`
	Details   json.RawMessage `json:"details,omitempty"`
	PrevHash  string          `json:"prevHash"`
	Hash      string          `json:"hash"`
}

// handleAuditExport downloads the filtered trail (newest first, at most
// auditExportMax entries) as CSV or JSON. The export is itself audited, as
// the organization export is.
func (h *Handler) handleAuditExport(c echo.Context, m *likeness.Membership) error {
	ctx := c.Request().Context()
	format := c.QueryParam("format")
	if format != "csv" && format != "json" {
		return likeness.Errorf(likeness.EINVALID, "The export format must be csv or json.")
	}
	form, f, err := auditFilter(c)
	if err != nil {
		return err
	}
	f.BeforeSeq, f.Limit = 0, auditExportMax
	entries, err := h.store.AuditSearch(ctx, m.Org.ID, f)
	if err != nil {
		return err
	}
	names, err := h.auditNames(ctx, m)
	if err != nil {
		return err
	}
	records := make([]auditRecord, 0, len(entries))
	for _, e := range entries {
		details := e.Details
		if string(details) == "{}" {
			details = nil
		}
		records = append(records, auditRecord{Seq: e.Seq, At: e.At, Actor: e.Actor, ActorName: names.actor(e.Actor),
			Action: e.Action, AppID: e.AppID, AppName: names.apps[e.AppID].name, Target: e.Target, Details: details,
			PrevHash: e.PrevHash, Hash: e.Hash})
	}
	details := map[string]any{"format": format, "entries": len(records)}
	if q := filterQuery(form); q != "" {
		details["filter"] = q
	}
	if err := h.store.Audit(ctx, likeness.AuditEntry{OrgID: m.Org.ID, Action: "audit.exported", Target: m.Org.ID,
		Details: jsonDetails(details)}); err != nil {
		return err
	}
	var body bytes.Buffer
	contentType := echo.MIMEApplicationJSONCharsetUTF8
	if format == "json" {
		enc := json.NewEncoder(&body)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Organization string        `json:"organizationId"`
			Entries      []auditRecord `json:"entries"`
		}{m.Org.ID, records}); err != nil {
			return err
		}
	} else {
		contentType = "text/csv; charset=utf-8"
		w := csv.NewWriter(&body)
		_ = w.Write([]string{"seq", "at", "actor", "actor_name", "action", "app_id", "app_name", "target", "details", "prev_hash", "hash"})
		for _, r := range records {
			_ = w.Write([]string{strconv.FormatInt(r.Seq, 10), r.At.UTC().Format(time.RFC3339Nano), csvSafe(r.Actor),
				csvSafe(r.ActorName), csvSafe(r.Action), r.AppID, csvSafe(r.AppName), csvSafe(r.Target),
				csvSafe(string(r.Details)), r.PrevHash, r.Hash})
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
	}
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentDisposition, `attachment; filename="audit-`+m.Org.ID+`.`+format+`"`)
	hd.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, contentType, body.Bytes())
}

// csvSafe keeps a spreadsheet from running a cell as a formula (names and
// targets can be typed by people).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// auditNamer names actors, applications and targets of one organization's
// trail in words, with links to their pages.
type auditNamer struct {
	org     string
	members map[string]string // user ID → email
	keys    map[string]string // API key ID → description
	apps    map[string]auditApp
	users   func(id string) string // email of any account, "" when gone
}

type auditApp struct{ name, publicID string }

func (h *Handler) auditNames(ctx context.Context, m *likeness.Membership) (*auditNamer, error) {
	n := &auditNamer{org: m.Org.ID, members: map[string]string{}, keys: map[string]string{}, apps: map[string]auditApp{}}
	ms, err := h.store.Members(ctx, m.Org.ID)
	if err != nil {
		return nil, err
	}
	for _, x := range ms {
		n.members[x.UserID] = x.Email
	}
	apps, err := h.store.OrgApps(ctx, m.Org.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		n.apps[a.ID] = auditApp{name: a.Name, publicID: a.PublicID}
		keys, err := h.store.ListAPIKeys(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			n.keys[k.ID] = "API key " + k.Prefix + "… (" + k.Role + ") of " + a.Name
		}
	}
	cache := map[string]string{}
	n.users = func(id string) string {
		if e, ok := cache[id]; ok {
			return e
		}
		e := ""
		if u, err := h.store.User(ctx, id); err == nil {
			e = u.Email
		}
		cache[id] = e
		return e
	}
	return n, nil
}

// actor names who acted, in words.
func (n *auditNamer) actor(a string) string {
	kind, id, _ := strings.Cut(a, ":")
	switch kind {
	case "console":
		if e, ok := n.members[id]; ok {
			return e
		}
		if e := n.users(id); e != "" {
			return e + " (no longer a member)"
		}
		return "A deleted account"
	case "support":
		if e := n.users(id); e != "" {
			return "Support: " + e
		}
		return "Support (a deleted account)"
	case "api":
		if d, ok := n.keys[id]; ok {
			return d
		}
		return "An API key of a deleted application"
	case "widget":
		return "Widget session " + short(id)
	case "self_service":
		return "The person, on the privacy page"
	case "cli":
		return "Command line (" + id + ")"
	case "system":
		if id == "" {
			return "Likeness"
		}
		return "Likeness (" + strings.ReplaceAll(id, "-", " ") + ")"
	}
	return a
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// choices are the actors the filter offers: members, API keys, and each
// kind of actor.
func (n *auditNamer) choices() []templates.Choice {
	var out []templates.Choice
	for id, e := range n.members {
		out = append(out, templates.Choice{Value: "console:" + id, Label: e})
	}
	for id, d := range n.keys {
		out = append(out, templates.Choice{Value: "api:" + id, Label: d})
	}
	slices.SortFunc(out, func(a, b templates.Choice) int { return strings.Compare(a.Label, b.Label) })
	kinds := map[string]string{"console:": "Any member", "api:": "Any API key", "widget:": "Any widget session",
		"self_service:": "People on the privacy page", "support:": "Support", "system:": "Likeness itself",
		"cli:": "The command line"}
	for _, k := range likeness.AuditActorKinds {
		out = append(out, templates.Choice{Value: k, Label: kinds[k]})
	}
	return out
}

// row describes one entry in words, with links.
func (n *auditNamer) row(e likeness.AuditEntry) templates.AuditRow {
	r := templates.AuditRow{Seq: e.Seq, At: e.At, Actor: n.actor(e.Actor), ActorID: e.Actor, Action: e.Action,
		Target: e.Target, Details: detailFields(e.Details)}
	app, ok := n.apps[e.AppID]
	if ok {
		r.App, r.AppURL = app.name, templates.AppPath(app.publicID, "")
	} else if e.AppID != "" {
		r.App = "a deleted application"
	}
	family, verb, _ := strings.Cut(e.Action, ".")
	gone := strings.Contains(verb, "deleted") || strings.Contains(verb, "purged") || strings.Contains(verb, "revoked")
	switch {
	case family == "member" || family == "invitation":
		if email, ok := n.members[e.Target]; ok {
			r.Target = email
		} else if email := n.users(e.Target); email != "" {
			r.Target = email
		}
		r.TargetURL = templates.OrgPath(n.org, "/members")
	case family == "audit":
		r.TargetURL = templates.OrgPath(n.org, "/audit")
	case !ok:
	case family == "facialid" && !gone:
		r.TargetURL = templates.AppPath(app.publicID, "/faces/"+url.PathEscape(e.Target))
	case family == "webhook" && !gone && e.Target != "" && verb != "payload_setting":
		r.TargetURL = templates.AppPath(app.publicID, "/webhooks/"+url.PathEscape(e.Target))
	case family == "webhook":
		r.TargetURL = templates.AppPath(app.publicID, "/webhooks")
	case family == "apikey":
		r.TargetURL = templates.AppPath(app.publicID, "/keys")
	case family == "notice":
		r.TargetURL = templates.AppPath(app.publicID, "/consent")
	case family == "settings":
		r.TargetURL = templates.AppPath(app.publicID, "/security")
	case family == "application" || family == "app" || family == "collection" || family == "origins":
		r.TargetURL = r.AppURL
	}
	return r
}

// detailFields turns an entry's details (a JSON object) into named values,
// sorted by name; a value that is not text or a number stays compact JSON.
func detailFields(raw json.RawMessage) []templates.Field {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		if s := strings.TrimSpace(string(raw)); s != "" && s != "{}" && s != "null" {
			return []templates.Field{{Name: "details", Value: s}}
		}
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]templates.Field, 0, len(keys))
	for _, k := range keys {
		var s string
		var list []string
		switch {
		case json.Unmarshal(m[k], &s) == nil:
		case json.Unmarshal(m[k], &list) == nil:
			s = strings.Join(list, ", ")
		default:
			s = string(m[k])
		}
		out = append(out, templates.Field{Name: words(k), Value: s})
	}
	return out
}

// words turns a JSON key such as "eventId" or "notice_version" into words
// ("event ID", "notice version").
func words(k string) string {
	var b strings.Builder
	for i, r := range k {
		switch {
		case r == '_' || r == '-':
			b.WriteByte(' ')
			continue
		case unicode.IsUpper(r) && i > 0:
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	s := b.String()
	for _, w := range []string{"id", "url", "ip", "sha256", "pin"} {
		s = replaceWord(s, w, strings.ToUpper(w))
	}
	return s
}

func replaceWord(s, w, with string) string {
	f := strings.Fields(s)
	for i := range f {
		if f[i] == w {
			f[i] = with
		}
	}
	return strings.Join(f, " ")
}
