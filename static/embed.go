// Package static embeds the built browser assets (the widget and the demo
// page) so the binary serves them with no files beside it.
package static

import "embed"

// FS holds the built assets.
//
//go:embed fio.js demo.html demo.js console.css console.js
var FS embed.FS
