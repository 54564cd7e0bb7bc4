package server

import (
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/likeness/likeness"
)

func TestValidRequestID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"abc-123", true},
		{"0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"trace.id_1", true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{strings.Repeat("a", 500<<10), false}, // what the review sent
		{"a b", false},
		{"id\nforged log line", false},
		{`"quoted"`, false},
		{"<script>", false},
		{"é", false},
		{"a/b", false},
		{"a\x00", false},
	} {
		if got := validRequestID(tc.id); got != tc.ok {
			t.Errorf("validRequestID(%.40q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

func TestOverHTTPS(t *testing.T) {
	proxy := Network{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tc := range []struct {
		name   string
		n      Network
		remote string
		proto  []string
		tls    bool
		want   bool
	}{
		{"plain http", Network{}, "192.0.2.1:5000", nil, false, false},
		{"tls", Network{}, "192.0.2.1:5000", nil, true, true},
		{"header without trusted proxies", Network{}, "192.0.2.1:5000", []string{"https"}, false, false},
		{"header from an untrusted peer", proxy, "192.0.2.1:5000", []string{"https"}, false, false},
		{"trusted proxy says https", proxy, "10.1.2.3:5000", []string{"https"}, false, true},
		{"trusted proxy says HTTPS", proxy, "10.1.2.3:5000", []string{"HTTPS"}, false, true},
		{"trusted proxy says http", proxy, "10.1.2.3:5000", []string{"http"}, false, false},
		{"client prepends https, proxy appends http", proxy, "10.1.2.3:5000", []string{"https, http"}, false, false},
		{"trusted proxy, no header", proxy, "10.1.2.3:5000", nil, false, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, p := range tc.proto {
			r.Header.Add("X-Forwarded-Proto", p)
		}
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := tc.n.overHTTPS(r); got != tc.want {
			t.Errorf("%s: overHTTPS = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRequestIDFromClient(t *testing.T) {
	h := newHarness(t, Limits{})
	for _, tc := range []struct {
		sent string
		keep bool
	}{
		{"client-id.42", true},
		{strings.Repeat("x", 500<<10), false},
		{strings.Repeat("x", 65), false},
		{"two words", false},
		{"evil\"}{", false},
	} {
		req, _ := http.NewRequest("GET", h.ts.URL+"/healthz", nil)
		req.Header.Set("X-Request-Id", tc.sent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("X-Request-Id")
		if tc.keep && got != tc.sent {
			t.Errorf("plain ID %q not kept: %q", tc.sent, got)
		}
		if !tc.keep && (got == tc.sent || !validRequestID(got)) {
			t.Errorf("ID %.40q taken as is: reply %.40q", tc.sent, got)
		}
		if !tc.keep && strings.Contains(h.log.String(), tc.sent) {
			t.Errorf("ID %.40q logged", tc.sent)
		}
	}
}

func TestJSONTrailingDataAndBadCursor(t *testing.T) {
	h := newHarness(t, Limits{})
	key, cid := h.apiKey, h.app.CollectionID
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"trailing object", "PATCH", "/v1/collections/" + cid, `{"retentionDays": 30}{"storeImages": true}`, 400},
		{"trailing garbage", "PATCH", "/v1/collections/" + cid, `{"retentionDays": 30} x`, 400},
		{"trailing comma", "PATCH", "/v1/collections/" + cid, `{"retentionDays": 30},`, 400},
		{"trailing white space is fine", "PATCH", "/v1/collections/" + cid, "{\"retentionDays\": 30}\n \t", 200},
		{"cursor not base64", "GET", "/v1/collections/" + cid + "/faces?cursor=!!", nil, 400},
		{"cursor without id", "GET", "/v1/collections/" + cid + "/faces?cursor=" + b64("123|"), nil, 400},
		{"cursor id not a uuid", "GET", "/v1/collections/" + cid + "/faces?cursor=" + b64("123|x' OR 1=1"), nil, 400},
		{"cursor negative time", "GET", "/v1/collections/" + cid + "/faces?cursor=" + b64("-5|0f8fad5b-d9cb-469f-a165-70867728950e"), nil, 400},
		{"cursor padded", "GET", "/v1/collections/" + cid + "/faces?cursor=" + base64.URLEncoding.EncodeToString([]byte("1|0f8fad5b-d9cb-469f-a165-70867728950e")), nil, 400},
		{"cursor good", "GET", "/v1/collections/" + cid + "/faces?cursor=" + b64("123|0f8fad5b-d9cb-469f-a165-70867728950e"), nil, 200},
	} {
		st, body, _ := h.call(tc.method, tc.path, key, tc.body)
		if st != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, st, tc.status, body)
		}
		if tc.status == 400 && !strings.Contains(string(body), `"invalid"`) {
			t.Errorf("%s: not an invalid error: %s", tc.name, body)
		}
		mustNotContain(t, body)
	}
	// The rejected request changed nothing.
	if col, err := h.db.Collection(t.Context(), h.app.ID); err != nil || col.StoreImages {
		t.Errorf("trailing object applied: %+v %v", col, err)
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestSecurityHeaders(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	h := newHarness(t, Limits{}, func(c *Config) { c.DemoPublicID = "app_demo"; c.Network.TrustedProxies = proxy })
	get := func(path, proto string) http.Header {
		req, _ := http.NewRequest("GET", h.ts.URL+path, nil)
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header
	}
	for _, p := range []string{"/healthz", "/.well-known/jwks.json", "/fio.js", "/v1/openapi.json", "/nowhere"} {
		hd := get(p, "")
		if got := hd.Get("Permissions-Policy"); got != likeness.PermissionsPolicyNone || !strings.Contains(got, "camera=()") {
			t.Errorf("%s: Permissions-Policy %q", p, got)
		}
		if hd.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain HTTP", p)
		}
		if hd := get(p, "https"); !strings.Contains(hd.Get("Strict-Transport-Security"), "max-age=") {
			t.Errorf("%s: no HSTS behind a trusted proxy saying https", p)
		}
	}
	if got := get("/demo", "").Get("Permissions-Policy"); got != likeness.PermissionsPolicyCamera {
		t.Errorf("/demo: Permissions-Policy %q, want the camera for itself", got)
	}

	// TLS served directly.
	ts := httptest.NewTLSServer(h.srv.Handler())
	defer ts.Close()
	resp, err := ts.Client().Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=31536000") {
		t.Errorf("TLS: HSTS %q", resp.Header.Get("Strict-Transport-Security"))
	}
}

// TestHSTSNotFromUntrustedPeer: a client cannot ask for HSTS on plain HTTP.
func TestHSTSNotFromUntrustedPeer(t *testing.T) {
	h := newHarness(t, Limits{})
	req, _ := http.NewRequest("GET", h.ts.URL+"/healthz", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS set on the word of an untrusted peer")
	}
}
