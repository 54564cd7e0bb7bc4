package server

import (
	"strings"
	"testing"
)

// TestFaceIOPINFollowsPolicy: /setfacialidpincode applies the application's
// PIN policy, as the widget's enrollment does.
func TestFaceIOPINFollowsPolicy(t *testing.T) {
	h := newHarness(t, Limits{})
	obama := photo(t, "verify/face_recognition/fr_obama/obama.jpg")
	fid := h.enroll(h.apiKey, h.app.CollectionID, "", obama)
	other := h.enroll(h.apiKey, h.app.CollectionID, "", photo(t, "verify/face_recognition/fr_biden/biden.jpg"))
	h.setPolicy(map[string]any{"pinMinLength": 8, "rejectWeakPins": true, "uniquePins": true})
	for _, tc := range []struct {
		fid, pin string
		status   int
		want     string
	}{
		{fid, "1234", 400, "8 to 16 digits"},        // under the policy's minimum
		{fid, "48291", 400, "8 to 16 digits"},       // still under it
		{fid, "12345678", 400, "too easy to guess"}, // weak
		{fid, "77777777", 400, "too easy to guess"},
		{fid, "4829173a", 400, "8 to 16 digits"},
		{fid, "48291735", 200, `{"status":200}`},
		{other, "48291735", 409, "choose another"}, // unique PINs
		{other, "59302846", 200, `{"status":200}`},
	} {
		st, body, _ := h.call("POST", "/setfacialidpincode", "", map[string]any{"key": h.apiKey, "fid": tc.fid, "pin": tc.pin})
		if st != tc.status || !strings.Contains(string(body), tc.want) {
			t.Errorf("pin %q: %d %s, want %d %q", tc.pin, st, body, tc.status, tc.want)
		}
		mustNotContain(t, body, "$argon2id", tc.pin)
	}
	if pinOK(t, h, fid, "12345678") || !pinOK(t, h, fid, "48291735") || !pinOK(t, h, other, "59302846") {
		t.Error("a refused PIN was stored, or an accepted one was not")
	}
}
