package geoip

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/likeness/likeness/geoip/geoiptest"
)

func TestCountry(t *testing.T) {
	db, err := Open(geoiptest.Write(t, map[string]string{"203.0.113.0/24": "fr", "2001:db8::/32": "DE"}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for ip, want := range map[string]string{
		"203.0.113.9": "FR", "::ffff:203.0.113.9": "FR", "2001:db8::1": "DE", "198.51.100.1": "",
	} {
		if got := db.Country(netip.MustParseAddr(ip)); got != want {
			t.Errorf("%s: %q, want %q", ip, got, want)
		}
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.mmdb")); err == nil {
		t.Error("opened a missing file")
	}
}
