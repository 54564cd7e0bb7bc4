package likeness

import (
	"net/http"
	"time"
)

// Bounds of a support access grant.
const (
	SupportMin = time.Hour
	SupportMax = 7 * 24 * time.Hour
)

// SupportGrant is an organization owner's permission for the server's
// operators to read the organization's console pages for a while.
type SupportGrant struct {
	ID           string
	OrgID        string
	OrgName      string
	GrantedBy    string // console user ID of the owner
	GrantedEmail string // their email, for display
	CreatedAt    time.Time
	ExpiresAt    time.Time
	RevokedAt    *time.Time
}

// Active reports whether the grant allows access at now.
func (g *SupportGrant) Active(now time.Time) bool {
	return g != nil && g.RevokedAt == nil && !now.Before(g.CreatedAt) && now.Before(g.ExpiresAt)
}

// CheckSupportDuration returns EINVALID unless d is within SupportMin and
// SupportMax.
func CheckSupportDuration(d time.Duration) error {
	if d < SupportMin || d > SupportMax {
		return Errorf(EINVALID, "Support access lasts from 1 hour to 7 days (168 hours).")
	}
	return nil
}

// SupportAllows decides whether an account that is not a member of an
// organization may see one of its pages: only an operator, only while the
// organization's grant is active, and only to read (GET or HEAD).
func SupportAllows(u *User, g *SupportGrant, method string, now time.Time) bool {
	if u == nil || !u.Operator || !g.Active(now) {
		return false
	}
	return method == http.MethodGet || method == http.MethodHead
}
