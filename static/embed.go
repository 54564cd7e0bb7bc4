// Package static embeds the built browser assets (the widget as a script
// and as an ES module, the demo page, the console's stylesheet and script)
// so the binary serves them with no files beside it, compressed and with
// cache validators (serve.go).
package static

import "embed"

// FS holds the built assets.
//
//go:embed fio.js fio.mjs demo.html demo.js console.css console.js
var FS embed.FS
