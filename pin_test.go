package likeness

import "testing"

func TestIsWeakPIN(t *testing.T) {
	for pin, weak := range map[string]bool{"1111": true, "1234": true, "9876": true, "1212": true, "2580": true,
		"4829": false, "5173": false, "123456": true, "135792": false, "7": true} {
		if IsWeakPIN(pin) != weak {
			t.Errorf("IsWeakPIN(%s) = %v", pin, !weak)
		}
	}
}

// TestCheckNewPIN covers the one PIN rule, including what an attacker or a
// careless client sends.
func TestCheckNewPIN(t *testing.T) {
	strict := DefaultSettings()
	strict.PINMinLength, strict.RejectWeakPINs = 8, true
	lax := DefaultSettings()
	lax.PINMinLength, lax.RejectWeakPINs = 4, false
	for _, tc := range []struct {
		set  Settings
		pin  string
		want PINProblem
	}{
		{strict, "1234", PINMalformed},               // shorter than the policy's minimum
		{strict, "48291735", ""},                     // long enough, not weak
		{strict, "12345678", PINWeak},                // a run
		{strict, "11111111", PINWeak},                // one digit
		{strict, "48291735a", PINMalformed},          // not digits
		{strict, "４８２９１７３５", PINMalformed},           // full-width digits
		{strict, "482917351234567890", PINMalformed}, // over 16
		{strict, "", PINMalformed},
		{strict, " 48291735", PINMalformed},
		{lax, "1234", ""},          // weak PINs allowed by this policy
		{lax, "123", PINMalformed}, // never under 4, whatever the setting
		{lax, "4829", ""},
	} {
		if got := tc.set.CheckNewPIN(tc.pin); got != tc.want {
			t.Errorf("min %d weak %v: CheckNewPIN(%q) = %q, want %q", tc.set.PINMinLength, tc.set.RejectWeakPINs, tc.pin, got, tc.want)
		}
		if err := tc.set.CheckNewPIN(tc.pin).Err(&tc.set); (err != nil) != (tc.want != "") || (err != nil && ErrorCode(err) != EINVALID) {
			t.Errorf("Err(%q) = %v", tc.pin, err)
		}
	}
}
