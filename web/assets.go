package web

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness/static"
	"github.com/likeness/likeness/templates"
)

// asset is one embedded file served under a content-hashed name.
type asset struct {
	data  []byte
	ctype string
}

// assets are the console's stylesheet and script, by hashed name
// (console.<hash>.css): a changed file gets a new URL, so each URL can be
// cached for a year.
type assets struct {
	byName map[string]asset
	urls   templates.Assets
}

func loadAssets() (*assets, error) {
	a := &assets{byName: map[string]asset{}}
	for _, f := range []struct {
		name, ctype string
		url         *string
	}{
		{"console.css", "text/css; charset=utf-8", &a.urls.CSS},
		{"console.js", "text/javascript; charset=utf-8", &a.urls.JS},
	} {
		data, err := static.FS.ReadFile(f.name)
		if err != nil {
			return nil, fmt.Errorf("web: asset %s: %w", f.name, err)
		}
		sum := sha256.Sum256(data)
		ext := path.Ext(f.name)
		hashed := strings.TrimSuffix(f.name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		a.byName[hashed] = asset{data: data, ctype: f.ctype}
		*f.url = "/static/" + hashed
	}
	return a, nil
}

// handleAsset serves a hashed asset with a year-long immutable cache.
func (h *Handler) handleAsset(c echo.Context) error {
	a, ok := h.assets.byName[c.Param("name")]
	if !ok {
		return echo.ErrNotFound
	}
	hd := c.Response().Header()
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	return c.Blob(http.StatusOK, a.ctype, a.data)
}
