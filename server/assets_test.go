package server

import (
	"net/http"
	"strings"
	"testing"

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
			res.Header.Get("Cache-Control") != static.CacheRevalidate || res.Header.Get("Cross-Origin-Resource-Policy") != "cross-origin" {
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
