package server

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// childPhoto is an 8-year-old from ../shared/age (the test skips without it).
func childPhoto(t *testing.T) string {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "age", "8_0_0_20170110220038315.jpg.chip.jpg")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("SKIP: the shared age set is absent (%s); the minors gate test needs a child's photo", p)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// blurred returns a face-set photo box-blurred until too blurred for an age
// estimate (the face is still found).
func blurred(t *testing.T, rel string) string {
	t.Helper()
	raw, _ := base64.StdEncoding.DecodeString(photo(t, rel))
	src, err := jpeg.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	img := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			img.Set(x, y, src.At(x, y))
		}
	}
	const r = 4
	for pass := 0; pass < 3; pass++ {
		out := image.NewRGBA(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				var s [3]int
				n := 0
				for dy := -r; dy <= r; dy++ {
					for dx := -r; dx <= r; dx++ {
						if p := (image.Point{x + dx, y + dy}); p.In(b) {
							c := img.RGBAAt(p.X, p.Y)
							s[0], s[1], s[2] = s[0]+int(c.R), s[1]+int(c.G), s[2]+int(c.B)
							n++
						}
					}
				}
				out.SetRGBA(x, y, color.RGBA{uint8(s[0] / n), uint8(s[1] / n), uint8(s[2] / n), 255})
			}
		}
		img = out
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// TestAPIMinorsGate: POST /v1/age answers only where preventMinors is on,
// with a decision and a decade band, never the estimate; enrollment through
// the API applies the same gate (engine.DecideAge) and stores nothing when
// it refuses.
func TestAPIMinorsGate(t *testing.T) {
	h := newHarness(t, Limits{})
	key, cid := h.apiKey, h.app.CollectionID
	obama := photo(t, "verify/face_recognition/fr_obama/obama.jpg")
	child := childPhoto(t)
	enroll := func(img string) map[string]any {
		return map[string]any{"images": []string{img}, "consent": consentJSON()}
	}
	// A decimal number anywhere would be an estimate leaking.
	estimate := regexp.MustCompile(`\d\.\d`)

	// preventMinors off: no age for anyone, and enrollment does not ask.
	st, body, _ := h.call("POST", "/v1/age", key, map[string]any{"image": obama})
	if st != 412 || strings.Contains(string(body), "ageBand") {
		t.Fatalf("age without preventMinors: %d %s, want 412 and no band", st, body)
	}

	h.setPolicy(map[string]any{"preventMinors": true, "minimumAge": 18})
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		want       []string
	}{
		{"adult", "/v1/age", map[string]any{"image": obama}, 200, []string{`"decision":"adult"`, `"ageBand":"`, `"minimumAge":18`}},
		{"child", "/v1/age", map[string]any{"image": child}, 200, []string{`"decision":"minor"`, `"ageBand":"`}},
		{"too blurred to tell", "/v1/age", map[string]any{"image": blurred(t, "verify/face_recognition/fr_obama/obama.jpg")}, 200, []string{`"decision":"undecided"`}},
		{"no face", "/v1/age", map[string]any{"image": photo(t, "controls/landscape.jpg")}, 422, []string{"no face"}},
		{"not an image", "/v1/age", map[string]any{"image": "%%%"}, 400, []string{"base64"}},
		{"missing image", "/v1/age", map[string]any{}, 400, nil},
		{"enroll a child", "/v1/collections/" + cid + "/faces", enroll(child), 403, []string{"limited to adults"}},
		{"enroll too blurred", "/v1/collections/" + cid + "/faces", enroll(blurred(t, "verify/face_recognition/fr_obama/obama.jpg")), 400, []string{"estimate an age"}},
		{"enroll an adult", "/v1/collections/" + cid + "/faces", enroll(obama), 201, []string{`"facialId"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := h.call("POST", tc.path, key, tc.body)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %s", st, tc.status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("reply lacks %q: %s", w, body)
				}
			}
			if m := estimate.Find(body); m != nil && tc.path == "/v1/age" {
				t.Errorf("reply holds a number with decimals %q: %s", m, body)
			}
			mustNotContain(t, body, key, "threshold", "score")
		})
	}
	if n := h.faceCount(); n != 1 {
		t.Fatalf("%d faces stored, want only the adult", n)
	}
}
