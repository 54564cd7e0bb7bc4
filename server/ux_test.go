package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/static"
)

// The widget is served compressed, with a strong ETag, under a stable URL
// that revalidates and a content-hashed one that is cached immutably.
func TestWidgetAssetsDelivery(t *testing.T) {
	h := newHarness(t, Limits{})
	get := func(path string, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, h.ts.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		// The transport would ask for gzip itself and hide the encoding.
		tr := &http.Transport{DisableCompression: true}
		res, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, name := range []string{"fio.js", "fio.mjs"} {
		a, err := static.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		res := get("/"+name, "Accept-Encoding", "gzip")
		if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("ETag") == "" ||
			res.Header.Get("Cache-Control") != static.CacheRevalidate || res.Header.Get("Cross-Origin-Resource-Policy") != "cross-origin" ||
			res.Header.Get("Access-Control-Allow-Origin") != "*" || res.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("/%s: %d %v", name, res.StatusCode, res.Header)
		}
		if r := get("/"+name, "Accept-Encoding", "gzip", "If-None-Match", res.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
			t.Errorf("/%s revalidated: %d", name, r.StatusCode)
		}
		res = get("/" + a.Hashed)
		if res.StatusCode != 200 || res.Header.Get("Cache-Control") != static.CacheImmutable || res.Header.Get("Content-Encoding") != "" {
			t.Errorf("/%s: %d %v", a.Hashed, res.StatusCode, res.Header)
		}
	}
	stale := "/fio.000000000000.js"
	if r := get(stale); r.StatusCode != http.StatusNotFound {
		t.Errorf("%s: %d, want 404", stale, r.StatusCode)
	}
	if r := get("/demo.js"); r.StatusCode != http.StatusNotFound {
		t.Errorf("/demo.js without --demo: %d", r.StatusCode)
	}
	if ct := get("/fio.mjs").Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("fio.mjs content type %q", ct)
	}
}

// The consent notice links absolute URLs: the application's own privacy
// policy when it set one, else its privacy page on this server; and
// {{privacyUrl}} in the text is that page's absolute URL.
func TestConsentNoticeLinks(t *testing.T) {
	h := newHarness(t, Limits{})
	ctx := context.Background()
	notice := func(locale string) map[string]any {
		t.Helper()
		c, _, err := h.dial(opEnroll, testOrigin)
		if err != nil {
			t.Fatal(err)
		}
		c.send(map[string]any{"type": "start", "locale": locale, "payload": nil})
		return c.expect("consent")
	}
	self := "http://likeness.test/privacy/" + h.app.PublicID
	n := notice("de-DE")
	if n["privacyUrl"] != self || n["locale"] != "de" || !strings.Contains(n["text"].(string), " "+self+" ") {
		t.Errorf("default: link %v, locale %v, text %v", n["privacyUrl"], n["locale"], n["text"])
	}
	st, err := h.db.Settings(ctx, h.app.ID)
	if err != nil {
		t.Fatal(err)
	}
	st.PrivacyPolicyURL = "https://shop.example/privacy"
	if _, err := h.db.UpdateSettings(ctx, h.app.ID, *st); err != nil {
		t.Fatal(err)
	}
	if n := notice("ja"); n["privacyUrl"] != "https://shop.example/privacy" || !strings.Contains(n["text"].(string), self) {
		t.Errorf("own policy: link %v, text %v", n["privacyUrl"], n["text"])
	}
	for _, c := range []struct {
		st   *likeness.Settings
		want string
	}{
		{nil, "https://l.example/privacy/app_1"},
		{&likeness.Settings{}, "https://l.example/privacy/app_1"},
		{&likeness.Settings{PrivacyPolicyURL: "https://shop.example/p"}, "https://shop.example/p"},
	} {
		if got := privacyLink(c.st, "https://l.example", "app_1"); got != c.want {
			t.Errorf("privacyLink(%v) = %q, want %q", c.st, got, c.want)
		}
	}
}

// Error messages are readable JSON: "Bearer <key>", not "\u003ckey\u003e".
func TestAPIErrorMessageIsNotHTMLEscaped(t *testing.T) {
	h := newHarness(t, Limits{})
	res, err := http.Get(h.ts.URL + "/v1/settings")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "Authorization: Bearer <key>.") ||
		strings.Contains(string(body), `\u003c`) || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%d %s %q", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
}

// The demo page's integration snippet shows this server's URL and the demo
// application's public ID, ready to copy.
func TestDemoSnippetNamesThisServer(t *testing.T) {
	h := newHarness(t, Limits{}, func(c *Config) { c.DemoPublicID = "app_demo123" })
	res, err := http.Get(h.ts.URL + "/demo")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{`&lt;script src="http://likeness.test/fio.js"&gt;`, `new faceIO("app_demo123")`,
		`<meta name="likeness-public-id" content="app_demo123">`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the demo page lacks %s", want)
		}
	}
	if strings.Contains(string(body), "__") || strings.Contains(string(body), "YOUR") {
		t.Error("a placeholder is left in the demo page")
	}
}
