package web

import (
	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness/static"
	"github.com/likeness/likeness/templates"
)

// assets are the console's stylesheet and script, by hashed name
// (console.<hash>.css): a changed file gets a new URL, so each URL can be
// cached for a year.
type assets struct {
	byName map[string]*static.Asset
	urls   templates.Assets
}

func loadAssets() (*assets, error) {
	a := &assets{byName: map[string]*static.Asset{}}
	for _, f := range []struct {
		name string
		url  *string
	}{
		{"console.css", &a.urls.CSS},
		{"console.js", &a.urls.JS},
	} {
		asset, err := static.Load(f.name)
		if err != nil {
			return nil, err
		}
		a.byName[asset.Hashed] = asset
		*f.url = "/static/" + asset.Hashed
	}
	return a, nil
}

// handleAsset serves a hashed asset with a year-long immutable cache,
// gzip-encoded when the browser accepts it.
func (h *Handler) handleAsset(c echo.Context) error {
	a, ok := h.assets.byName[c.Param("name")]
	if !ok {
		return echo.ErrNotFound
	}
	c.Response().Header().Set("Cross-Origin-Resource-Policy", "same-origin")
	a.Serve(c.Response(), c.Request(), static.CacheImmutable)
	return nil
}
