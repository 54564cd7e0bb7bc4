package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// Cache-Control values of the two kinds of asset URL.
const (
	// CacheRevalidate is for a stable URL (/fio.js): any cache may keep it
	// but must revalidate it (a 304 when the ETag still matches).
	CacheRevalidate = "public, no-cache"
	// CacheImmutable is for a content-hashed URL (/fio.<hash>.js): its bytes
	// never change, so it may be cached for a year without revalidation.
	CacheImmutable = "public, max-age=31536000, immutable"
)

// Asset is one embedded file, ready to be served: its bytes, their gzip
// encoding, a strong ETag for each, and its content-hashed name.
type Asset struct {
	Name   string // file name in FS, e.g. "fio.js"
	Hashed string // content-hashed name, e.g. "fio.0123456789ab.js"
	Type   string // Content-Type
	data   []byte
	gz     []byte
	etag   string // of data
	gzEtag string // of gz (a strong ETag names one representation)
}

// Load reads name from FS and prepares it (gzip at the best compression
// once, at start-up, not per request).
func Load(name string) (*Asset, error) {
	data, err := FS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("static: %s: %w", name, err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("static: gzip %s: %w", name, err)
	}
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("static: gzip %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("static: gzip %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:6])
	ext := path.Ext(name)
	ctype := mime.TypeByExtension(ext)
	switch ext {
	case ".js", ".mjs":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	}
	return &Asset{
		Name: name, Hashed: strings.TrimSuffix(name, ext) + "." + hash + ext, Type: ctype,
		data: data, gz: buf.Bytes(), etag: `"` + hash + `"`, gzEtag: `"` + hash + `-gz"`,
	}, nil
}

// GzipSize is the size of the gzip encoding, in bytes.
func (a *Asset) GzipSize() int { return len(a.gz) }

// Serve writes the asset: gzip-encoded when the request accepts gzip, with
// Vary: Accept-Encoding, the representation's strong ETag, cacheControl,
// and 304 Not Modified when If-None-Match names that ETag.
func (a *Asset) Serve(w http.ResponseWriter, r *http.Request, cacheControl string) {
	body, etag := a.data, a.etag
	h := w.Header()
	h.Add("Vary", "Accept-Encoding")
	if AcceptsGzip(r.Header.Get("Accept-Encoding")) {
		body, etag = a.gz, a.gzEtag
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	h.Set("Cache-Control", cacheControl)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", a.Type)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// AcceptsGzip reports whether an Accept-Encoding header allows gzip (or *)
// with a non-zero quality.
func AcceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		if q > 0 {
			return true
		}
	}
	return false
}

// etagMatch reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match) or is "*".
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
