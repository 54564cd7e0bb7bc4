package likeness

import (
	"slices"
)

// PINProblem names why a PIN someone chooses breaks an application's PIN
// policy, or is "" when it is acceptable.
type PINProblem string

// The PIN problems CheckNewPIN reports.
const (
	PINMalformed PINProblem = "malformed" // not PINMinLength to MaxPINLength digits
	PINWeak      PINProblem = "weak"      // guessed early (RejectWeakPINs)
)

// CheckNewPIN is the one rule for a PIN someone chooses, on every path (the
// widget's enrollment, /setfacialidpincode): digits only, PINMinLength to
// MaxPINLength long, and not a weak PIN when RejectWeakPINs is on. Whether
// UniquePINs holds needs the store; callers check it after this.
func (s *Settings) CheckNewPIN(pin string) PINProblem {
	switch {
	case !ValidPIN(pin, max(4, s.PINMinLength)):
		return PINMalformed
	case s.RejectWeakPINs && IsWeakPIN(pin):
		return PINWeak
	}
	return ""
}

// Err returns the problem as an EINVALID error with a message for the
// person choosing the PIN (nil for no problem).
func (p PINProblem) Err(s *Settings) error {
	switch p {
	case PINMalformed:
		return Errorf(EINVALID, "The PIN must be %d to %d digits.", max(4, s.PINMinLength), MaxPINLength)
	case PINWeak:
		return Errorf(EINVALID, "The PIN is too easy to guess; choose another.")
	}
	return nil
}

// commonPINs are PINs people choose first that no simple pattern covers.
var commonPINs = []string{"1234", "2580", "1212", "1004", "2000", "6969", "1122", "1313", "4321", "2001", "1010",
	"123456", "654321", "121212", "112233", "123123", "159753", "696969", "12345678", "87654321", "11223344"}

// IsWeakPIN reports whether pin is guessed early: one repeated digit, a run
// up or down, a repeated pair, or a common choice.
func IsWeakPIN(pin string) bool {
	if len(pin) < 2 {
		return true
	}
	same, up, down, pair := true, true, true, len(pin)%2 == 0
	for i := 1; i < len(pin); i++ {
		same = same && pin[i] == pin[0]
		up = up && pin[i] == pin[i-1]+1
		down = down && pin[i] == pin[i-1]-1
		if pair && i >= 2 {
			pair = pin[i] == pin[i-2]
		}
	}
	return same || up || down || pair || slices.Contains(commonPINs, pin)
}
