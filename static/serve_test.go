package static

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                      false,
		"gzip":                  true,
		"GZIP":                  true,
		"gzip, deflate, br":     true,
		"br;q=1, gzip;q=0.5":    true,
		"gzip;q=0":              false,
		"gzip; q=0.0":           false,
		"identity":              false,
		"br":                    false,
		"*":                     true,
		"*;q=0":                 false,
		"x-gzip":                true,
		"gzipx":                 false,
		"deflate, gzip;q=bogus": true, // an unreadable q is the default 1
	} {
		if got := AcceptsGzip(header); got != want {
			t.Errorf("AcceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

func TestServe(t *testing.T) {
	a, err := Load("fio.js")
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := FS.ReadFile("fio.js")
	get := func(method string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/fio.js", nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		a.Serve(w, r, CacheRevalidate)
		return w
	}

	w := get(http.MethodGet, map[string]string{"Accept-Encoding": "gzip, deflate, br"})
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || w.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip: %d %v", w.Code, w.Header())
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if !bytes.Equal(got, plain) {
		t.Fatal("the gzip body is not fio.js")
	}
	gzTag := w.Header().Get("ETag")
	if !strings.HasPrefix(gzTag, `"`) || strings.HasPrefix(gzTag, "W/") || w.Header().Get("Cache-Control") != CacheRevalidate {
		t.Errorf("a strong ETag and the cache policy: %v", w.Header())
	}
	if w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" || a.GzipSize() >= len(plain)/2 {
		t.Errorf("type %q, gzip %d of %d bytes", w.Header().Get("Content-Type"), a.GzipSize(), len(plain))
	}

	w = get(http.MethodGet, nil)
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "" || !bytes.Equal(w.Body.Bytes(), plain) {
		t.Fatalf("identity: %d %v", w.Code, w.Header())
	}
	plainTag := w.Header().Get("ETag")
	if plainTag == gzTag {
		t.Error("each representation has its own strong ETag")
	}

	for name, c := range map[string]struct {
		hdr  map[string]string
		want int
	}{
		"same gzip ETag":            {map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gzTag}, 304},
		"same identity ETag":        {map[string]string{"If-None-Match": plainTag}, 304},
		"in a list":                 {map[string]string{"If-None-Match": `"x", ` + plainTag}, 304},
		"star":                      {map[string]string{"If-None-Match": "*"}, 304},
		"other representation's":    {map[string]string{"If-None-Match": gzTag}, 200},
		"stale":                     {map[string]string{"If-None-Match": `"000000000000"`}, 200},
		"gzip refused with q=0":     {map[string]string{"Accept-Encoding": "gzip;q=0", "If-None-Match": gzTag}, 200},
		"weak form of the same tag": {map[string]string{"If-None-Match": "W/" + plainTag}, 304},
	} {
		if w := get(http.MethodGet, c.hdr); w.Code != c.want {
			t.Errorf("%s: %d, want %d", name, w.Code, c.want)
		} else if w.Code == 304 && w.Body.Len() != 0 {
			t.Errorf("%s: a 304 has no body", name)
		}
	}

	if w := get(http.MethodHead, map[string]string{"Accept-Encoding": "gzip"}); w.Code != 200 || w.Body.Len() != 0 ||
		w.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %d bytes, %v", w.Code, w.Body.Len(), w.Header())
	}
	if !strings.HasPrefix(a.Hashed, "fio.") || !strings.HasSuffix(a.Hashed, ".js") || len(a.Hashed) != len("fio.")+12+len(".js") {
		t.Errorf("hashed name %q", a.Hashed)
	}
	if _, err := Load("nope.js"); err == nil {
		t.Error("a missing file is an error")
	}
}
