package likeness

import "strings"

// PIN modes.
const (
	PINOff      = "off"
	PINOptional = "optional"
	PINRequired = "required"
)

// Liveness levels.
const (
	LivenessStandard = "standard" // passive model over several frames + motion
	LivenessStrict   = "strict"   // standard plus an active challenge (blink, turn)
)

// Bounds of Settings.MaxFalseAcceptRate. Below 1e-8 no calibration this
// product can make is trustworthy; above 1% a face login is a coin toss for
// an attacker who tries a hundred times.
const (
	DefaultMaxFalseAcceptRate = 1e-4
	MinMaxFalseAcceptRate     = 1e-8
	MaxMaxFalseAcceptRate     = 1e-2
	// MaxPINLength is the longest PIN accepted anywhere.
	MaxPINLength = 16
)

// ValidPIN reports whether pin is well formed for an application whose
// PINs have at least minLength digits: digits only, minLength to
// MaxPINLength of them.
func ValidPIN(pin string, minLength int) bool {
	return len(pin) >= minLength && len(pin) <= MaxPINLength && strings.Trim(pin, "0123456789") == ""
}

// Settings is an application's security policy, enforced on the server.
// AllowedOrigins lives on Application.Origins.
type Settings struct {
	RejectEmptyOrigin bool     `json:"rejectEmptyOrigin"`
	AllowedCountries  []string `json:"allowedCountries"` // ISO 3166-1 alpha-2; empty allows all
	PIN               string   `json:"pin"`              // PINOff, PINOptional or PINRequired
	PINMinLength      int      `json:"pinMinLength"`     // 4–16
	RejectWeakPINs    bool     `json:"rejectWeakPins"`
	UniquePINs        bool     `json:"uniquePins"`
	AlwaysAskPIN      bool     `json:"alwaysAskPin"`
	PreventDuplicates bool     `json:"preventDuplicates"`
	PreventMinors     bool     `json:"preventMinors"`
	MinimumAge        int      `json:"minimumAge"` // with PreventMinors; 13–99
	Liveness          string   `json:"liveness"`   // LivenessStandard or LivenessStrict
	// MaxFalseAcceptRate is the target chance that a person who never
	// enrolled is accepted as someone else in one attempt. Face-only login
	// is allowed only while the collection's size lets the face meet it;
	// beyond, a second factor completes the login (see package identify).
	MaxFalseAcceptRate float64 `json:"maxFalseAcceptRate"`
	// Widget sessions allowed per client IP and per application, per minute.
	SessionsPerIPPerMinute  int `json:"sessionsPerIpPerMinute"`
	SessionsPerAppPerMinute int `json:"sessionsPerAppPerMinute"`
	// MaxFailedAuth failed authentications of one Facial ID (wrong PIN)
	// before it is locked for LockoutMinutes.
	MaxFailedAuth  int `json:"maxFailedAuth"`
	LockoutMinutes int `json:"lockoutMinutes"`
}

// DefaultSettings are the settings of a new application.
func DefaultSettings() Settings {
	return Settings{
		RejectEmptyOrigin: true, AllowedCountries: []string{}, PIN: PINOff, PINMinLength: 4, RejectWeakPINs: true,
		PreventDuplicates: true, MinimumAge: 18, Liveness: LivenessStandard,
		MaxFalseAcceptRate: DefaultMaxFalseAcceptRate, SessionsPerIPPerMinute: 30, SessionsPerAppPerMinute: 600,
		MaxFailedAuth: 5, LockoutMinutes: 15,
	}
}

// Validate checks every field and normalises country codes to upper case.
// EINVALID names the first bad field.
func (s *Settings) Validate() error {
	switch s.PIN {
	case PINOff, PINOptional, PINRequired:
	default:
		return Errorf(EINVALID, "pin must be off, optional or required.")
	}
	if s.PINMinLength < 4 || s.PINMinLength > 16 {
		return Errorf(EINVALID, "pinMinLength must be 4 to 16.")
	}
	if s.MinimumAge < 13 || s.MinimumAge > 99 {
		return Errorf(EINVALID, "minimumAge must be 13 to 99.")
	}
	if s.Liveness != LivenessStandard && s.Liveness != LivenessStrict {
		return Errorf(EINVALID, "liveness must be standard or strict.")
	}
	if !(s.MaxFalseAcceptRate >= MinMaxFalseAcceptRate && s.MaxFalseAcceptRate <= MaxMaxFalseAcceptRate) {
		return Errorf(EINVALID, "maxFalseAcceptRate must be between 1e-8 and 0.01.")
	}
	if s.SessionsPerIPPerMinute < 1 || s.SessionsPerIPPerMinute > 10000 {
		return Errorf(EINVALID, "sessionsPerIpPerMinute must be 1 to 10000.")
	}
	if s.SessionsPerAppPerMinute < 1 || s.SessionsPerAppPerMinute > 1000000 {
		return Errorf(EINVALID, "sessionsPerAppPerMinute must be 1 to 1000000.")
	}
	if s.MaxFailedAuth < 1 || s.MaxFailedAuth > 100 {
		return Errorf(EINVALID, "maxFailedAuth must be 1 to 100.")
	}
	if s.LockoutMinutes < 1 || s.LockoutMinutes > 10080 {
		return Errorf(EINVALID, "lockoutMinutes must be 1 to 10080.")
	}
	if s.AllowedCountries == nil {
		s.AllowedCountries = []string{}
	}
	if len(s.AllowedCountries) > 250 {
		return Errorf(EINVALID, "allowedCountries has too many entries.")
	}
	for i, c := range s.AllowedCountries {
		c = strings.ToUpper(strings.TrimSpace(c))
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			return Errorf(EINVALID, "allowedCountries must hold ISO 3166-1 alpha-2 codes such as FR.")
		}
		s.AllowedCountries[i] = c
	}
	return nil
}
