package likeness

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// NormalizeOrigin checks that s is an absolute http(s) origin with no path,
// query, fragment or user information, and returns it with scheme and host in
// lower case and the scheme's default port dropped.
func NormalizeOrigin(s string) (string, error) {
	bad := func() (string, error) {
		return "", Errorf(EINVALID, "Origin %q must be scheme://host[:port] with scheme http or https and no path.", truncate(s, 100))
	}
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery ||
		u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return bad()
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return bad()
	}
	host := strings.ToLower(u.Hostname())
	if !ValidHost(host) {
		return bad()
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad()
		}
		if !(scheme == "http" && n == 80) && !(scheme == "https" && n == 443) {
			host += ":" + strconv.Itoa(n)
		}
	}
	return scheme + "://" + host, nil
}

// ValidHost accepts an IP address or an ASCII host name (IDNs in punycode).
func ValidHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
