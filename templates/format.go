package templates

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
)

// When formats a time for people: UTC, to the minute.
func When(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2 Jan 2006, 15:04 UTC")
}

// WhenPtr formats an optional time, with none for a nil one.
func WhenPtr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return When(*t)
}

// ISO formats a time for a <time datetime> attribute.
func ISO(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Plural returns "1 thing" or "n things".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// Itoa formats an int.
func Itoa(n int) string { return strconv.Itoa(n) }

// Itoa64 formats an int64.
func Itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// Title capitalises the first letter (for roles and statuses).
func Title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// AppPath returns the console path of an application page.
func AppPath(publicID, rest string) string { return "/console/apps/" + publicID + rest }

// OrgPath returns the console path of an organization page.
func OrgPath(orgID, rest string) string { return "/console/orgs/" + orgID + rest }

// OrgAppsPath is the applications page with the organization's applications
// in view and its create form preselecting it.
func OrgAppsPath(orgID string) string {
	return "/console/apps?org=" + url.QueryEscape(orgID) + "#org-" + orgID
}

// Contains reports whether list holds s.
func Contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Short returns the first n characters of s followed by "…" when longer.
func Short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// ConsentKindLabel explains a consent record's kind.
func ConsentKindLabel(kind string) string {
	switch kind {
	case "widget_accept":
		return "Accepted the notice in the widget"
	case "site_attestation":
		return "The site says it collected consent itself"
	case "api_attestation":
		return "Attested by an API client"
	}
	return kind
}

// roleHelp explains what a role may do.
func roleHelp(role string) string {
	switch role {
	case "owner":
		return "Everything, including members and the audit trail"
	case "admin":
		return "Manages applications and members (not owners)"
	case "viewer":
		return "Reads everything but the audit trail; changes nothing"
	}
	return ""
}

// currentPage marks the link to the page being shown (aria-current="page").
func currentPage(on bool) templ.Attributes {
	if on {
		return templ.Attributes{"aria-current": "page"}
	}
	return templ.Attributes{}
}

// urlQuery escapes s for a URL's query string.
func urlQuery(s string) string { return url.QueryEscape(s) }
