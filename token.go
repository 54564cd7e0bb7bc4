package likeness

import (
	"crypto/ecdsa"
	"strings"
	"time"
)

// Token purposes: every token the server signs names what it is for, and
// every verifier checks it together with the audience.
const (
	// PurposeResult is a widget result token for the site: its audience is
	// the application's public ID.
	PurposeResult = "result"
	// PurposePrivacy is a token for the self-service privacy page only: it
	// is issued to a verification that the privacy page itself started, its
	// audience is the privacy page's URL, it lives PrivacyTokenTTL and is
	// accepted once.
	PurposePrivacy = "privacy"
)

// ResultTokenTTL is how long a site's result token is valid.
const ResultTokenTTL = 5 * time.Minute

// PrivacyTokenTTL is how long a privacy page token is valid: long enough to
// post it from the page that received it, no longer.
const PrivacyTokenTTL = 2 * time.Minute

// KeyGrace is how long a signing key stays published in the JWKS after a
// newer key replaced it: the life of the longest token it may have signed,
// plus a minute for clocks that disagree.
const KeyGrace = ResultTokenTTL + time.Minute

// PrivacyAudience is the audience of a privacy page token: the page's URL.
func PrivacyAudience(publicURL, publicID string) string {
	return strings.TrimRight(publicURL, "/") + "/privacy/" + publicID
}

// VerificationKey is a public key that verifies tokens, by key ID, and when
// it stopped signing (nil while it is the current key).
type VerificationKey struct {
	KID       string
	Key       *ecdsa.PublicKey
	CreatedAt time.Time
	RetiredAt *time.Time
}
