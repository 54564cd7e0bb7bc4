package likeness

import "time"

// Roles of a console account in an organization.
const (
	OrgOwner  = "owner"  // everything, including members and the audit trail
	OrgAdmin  = "admin"  // manages applications and members other than owners
	OrgViewer = "viewer" // reads; changes nothing
)

// OrgRoles returns the organization roles, most powerful first, in a new slice.
func OrgRoles() []string { return []string{OrgOwner, OrgAdmin, OrgViewer} }

// Organization owns applications; console accounts are its members.
type Organization struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// User is a console account of a site owner (not an end user of the widget).
type User struct {
	ID                 string
	Email              string // lower case
	PasswordHash       string // argon2id, PHC string format; never shown
	MustChangePassword bool   // set for accounts made with a one-time password
	// SessionVersion is part of every console session; raising it (on a
	// password change) ends every session of the account.
	SessionVersion int
	CreatedAt      time.Time
	LastSignInAt   *time.Time

	// Operator marks an account of the people who run the server (`likeness
	// admin create --operator`): it sees an organization it is not a member
	// of only while that organization grants support access.
	Operator bool
}

// Membership is a user's role in an organization.
type Membership struct {
	Org       Organization
	UserID    string
	Email     string
	Role      string // OrgOwner, OrgAdmin or OrgViewer
	CreatedAt time.Time
}

// AccountCreate is the input to creating a console account.
type AccountCreate struct {
	Email        string
	PasswordHash string
	// OrgName names the organization created with the account, with the
	// account as its owner.
	OrgName string
}

// OutcomeCount is how many widget operations of one kind ended one way on
// one day (UTC) in one application.
type OutcomeCount struct {
	Day     time.Time // midnight UTC
	Op      string    // "enroll" or "authenticate"
	Outcome string    // "ok" or a FACEIO code name such as "PAD_ATTACK"
	Count   int
}

// Invitation asks the person with Email to join an organization with a
// role. Nobody is added until that person accepts, signed in as Email. The
// link's secret is shown once to the inviter and stored only hashed.
type Invitation struct {
	ID        string
	Org       Organization
	Email     string // lower case
	Role      string // OrgOwner, OrgAdmin or OrgViewer
	InvitedBy string // the inviter's email, when the account still exists
	CreatedAt time.Time
	ExpiresAt time.Time
}
