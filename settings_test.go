package likeness_test

import (
	"strings"
	"testing"

	"github.com/likeness/likeness"
)

// privacyPolicyUrl becomes a link a visitor's browser opens: only absolute
// http(s) URLs get through, whatever an application owner (or someone with
// its API key) tries.
func TestSettingsPrivacyPolicyURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"":                                   true,
		"https://shop.example/privacy":       true,
		"http://localhost:3000/privacy?x=1":  true,
		"https://shop.example/p#section-3":   true,
		"javascript:alert(1)":                false,
		"JavaScript:alert(document.cookie)":  false,
		"data:text/html,<script>x</script>":  false,
		"//shop.example/privacy":             false,
		"/privacy":                           false,
		"shop.example/privacy":               false,
		"https://":                           false,
		"https://user:pw@shop.example/":      false,
		"https://shop.example/a b":           false,
		"https://shop.example/\nSet-Cookie:": false,
		"ftp://shop.example/privacy":         false,
		"https://shop.example/" + strings.Repeat("a", likeness.MaxPrivacyPolicyURLLen): false,
	} {
		st := likeness.DefaultSettings()
		st.PrivacyPolicyURL = raw
		err := st.Validate()
		if (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", raw, err, ok)
		}
		if err != nil && (likeness.ErrorCode(err) != likeness.EINVALID || !strings.Contains(likeness.ErrorMessage(err), "privacyPolicyUrl")) {
			t.Errorf("%q: the error names the field: %v", raw, err)
		}
	}
}
