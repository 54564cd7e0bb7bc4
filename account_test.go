package likeness_test

import (
	"testing"
	"time"

	"github.com/likeness/likeness"
)

func TestCanRestoreOrg(t *testing.T) {
	del := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		deletedAt time.Time
		now       time.Time
		want      bool
	}{
		{"at once", del, del, true},
		{"89 days later", del, del.Add(89 * 24 * time.Hour), true},
		{"a second before 90 days", del, del.Add(likeness.OrgRetention - time.Second), true},
		{"at 90 days", del, del.Add(likeness.OrgRetention), false},
		{"a year later", del, del.AddDate(1, 0, 0), false},
		{"clock behind the deletion", del, del.Add(-time.Minute), false},
		{"never deleted", time.Time{}, del, false},
	} {
		if got := likeness.CanRestoreOrg(tc.deletedAt, tc.now); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestConfirmOrgName(t *testing.T) {
	for _, tc := range []struct {
		name, typed string
		want        bool
	}{
		{"Acme", "Acme", true},
		{"Acme", "  Acme\n", true},
		{"Acme", "acme", false},     // case matters
		{"Acme", "Acme Inc", false}, // no prefix match
		{"Acme", "Acm", false},
		{"Acme", "", false},
		{"", "", false}, // an empty name confirms nothing
		{"Ünïcode Org", "Ünïcode Org", true},
		{"Acme", "Acme\u200b", false}, // a zero-width space is not a space
	} {
		if got := likeness.ConfirmOrgName(tc.name, tc.typed); got != tc.want {
			t.Errorf("ConfirmOrgName(%q, %q) = %v, want %v", tc.name, tc.typed, got, tc.want)
		}
	}
}

func TestSoleOwnerOrgs(t *testing.T) {
	a, b, c := likeness.Organization{ID: "a", Name: "A"}, likeness.Organization{ID: "b", Name: "B"}, likeness.Organization{ID: "c", Name: "C"}
	ms := []*likeness.Membership{{Org: a, Role: likeness.OrgOwner}, {Org: b, Role: likeness.OrgOwner}, {Org: c, Role: likeness.OrgAdmin}}
	got := likeness.SoleOwnerOrgs(ms, map[string]int{"a": 1, "b": 2, "c": 1})
	if len(got) != 1 || got[0].ID != "a" {
		t.Errorf("sole owner of %v, want [A]", got)
	}
	if got := likeness.SoleOwnerOrgs(ms, map[string]int{}); len(got) != 2 {
		t.Errorf("unknown owner counts count as sole: %v", got)
	}
	if got := likeness.SoleOwnerOrgs(nil, nil); len(got) != 0 {
		t.Errorf("no memberships: %v", got)
	}
}
