package templates

import "time"

// DeleteOrgView is the page that deletes an organization (owners only).
type DeleteOrgView struct {
	Chrome       Chrome
	Org          OrgLink
	Applications int
	Faces        int
	Members      int
	Typed        string // what was typed in the confirmation field
}

// DeleteAccountView is the page where a member deletes their own account.
type DeleteAccountView struct {
	Chrome    Chrome
	Email     string
	SoleOwner []OrgLink // organizations to hand over or delete first
}

// SupportView is an owner's support access page: grants and their use.
type SupportView struct {
	Chrome Chrome
	Org    OrgLink
	Active *SupportRow // the grant running now, if any
	Grants []SupportRow
	Uses   []SupportUse // pages operators opened, newest first
	Hours  int          // the form's duration
}

// SupportRow is one support access grant.
type SupportRow struct {
	ID        string
	GrantedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
	Status    string // "active", "expired" or "revoked"
}

// SupportUse is one console page an operator opened under a grant.
type SupportUse struct {
	At       time.Time
	Operator string
	Path     string
}

// SupportListView is the operators' list of organizations granting
// support access now.
type SupportListView struct {
	Chrome Chrome
	Orgs   []SupportOrg
}

// SupportOrg is one organization an operator may read now.
type SupportOrg struct {
	ID        string
	Name      string
	ExpiresAt time.Time
	Apps      []SupportApp
}

// SupportApp links an application of a SupportOrg.
type SupportApp struct {
	PublicID string
	Name     string
}
