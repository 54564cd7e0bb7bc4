// Package geoip resolves client IP addresses to ISO 3166-1 countries from a
// MaxMind DB file (GeoLite2/GeoIP2 Country or City, or any database with the
// same "country.iso_code" record) that the operator provides.
package geoip

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// DB is an open country database. It is safe for concurrent use.
type DB struct {
	r *maxminddb.Reader
}

// Open opens a MaxMind DB file.
func Open(path string) (*DB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip: %w", err)
	}
	return &DB{r: r}, nil
}

// Close releases the database.
func (d *DB) Close() error { return d.r.Close() }

type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
}

// Country returns the upper-case ISO 3166-1 alpha-2 code of the address, or
// "" when the database does not know it.
func (d *DB) Country(ip netip.Addr) string {
	var rec record
	if err := d.r.Lookup(ip.Unmap()).Decode(&rec); err != nil {
		return ""
	}
	return strings.ToUpper(rec.Country.ISOCode)
}
