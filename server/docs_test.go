package server

import (
	"bytes"
	"encoding/json"
	"image"
	"image/jpeg"
	_ "image/png" // a face-set photo may be a PNG
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// maxArgLen is Linux's MAX_ARG_STRLEN: the longest single command-line
// argument. A photo's base64 longer than this cannot be passed with
// -d "$(base64 photo.jpg)"; the docs must stream it.
const maxArgLen = 128 << 10

// TestDocsCurlExamples runs every ```sh block of docs/*.md that calls curl,
// in file order, against a real server (real engine, real SQLite), with
// photos of several megabytes, as a reader would after exporting LIKENESS,
// KEY, COL and FID. Every request must succeed (2xx) except where the block
// says otherwise with "(HTTP NNN)".
func TestDocsCurlExamples(t *testing.T) {
	for _, tool := range []string{"curl", "bash", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIP: %s is not installed; the docs' examples need it", tool)
		}
	}
	faces := facesDir(t)
	h := newHarness(t, Limits{})
	dir := t.TempDir()
	photos := map[string]string{ // as the docs name them → a face-set photo
		"alice1.jpg": "verify/face_recognition/fr_obama/obama.jpg",
		"alice2.jpg": "verify/face_recognition/fr_obama/obama2.jpg",
		"bob1.jpg":   "verify/face_recognition/fr_biden/biden.jpg",
		"bob2.jpg":   "verify/face_recognition/fr_biden/biden2.jpg",
		"b.jpg":      "verify/face_recognition/fr_biden/biden2.jpg",
	}
	for name, rel := range photos {
		b, err := os.ReadFile(filepath.Join(faces, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A phone-sized photo: several megabytes, far over one argument's limit.
	for _, name := range []string{"probe.jpg", "a.jpg", "selfie.jpg"} {
		size := bigPhoto(t, filepath.Join(faces, "verify/face_recognition/fr_obama/obama3.jpg"), filepath.Join(dir, name))
		if size*4/3 <= maxArgLen {
			t.Fatalf("%s is %d bytes: too small to show that bodies are streamed", name, size)
		}
	}

	var app struct {
		CollectionID string `json:"collectionId"`
	}
	if code, body, _ := h.call("GET", "/v1/application", h.apiKey, nil); code != 200 || json.Unmarshal(body, &app) != nil {
		t.Fatalf("GET /v1/application: %d %s", code, body)
	}
	env := map[string]string{"LIKENESS": h.ts.URL, "KEY": h.apiKey, "COL": app.CollectionID, "KID": ""}

	files, _ := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	type docBlock struct {
		file, text string
		i          int
	}
	// Blocks that delete the organization run last: every block after them
	// would find no application.
	var blocks, last []docBlock
	for _, f := range files {
		md, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range curlBlocks(string(md)) {
			if destroysOrg.MatchString(b) {
				last = append(last, docBlock{f, b, i})
			} else {
				blocks = append(blocks, docBlock{f, b, i})
			}
		}
	}
	ran := 0
	for _, db := range append(blocks, last...) {
		f, i, block := db.file, db.i, db.text
		{
			name := filepath.Base(f) + "#" + strings.SplitN(strings.TrimSpace(block), "\n", 2)[0]
			env["FID"] = ""
			if strings.Contains(block, "$FID") {
				env["FID"] = h.aFace(t)
			}
			out, statuses := runBlock(t, name, block, dir, env)
			ran++
			var failed []string
			for _, s := range statuses {
				if s[0] != '2' {
					failed = append(failed, s)
				}
			}
			var want []string
			for _, m := range expectStatus.FindAllStringSubmatch(block, -1) {
				want = append(want, m[1])
			}
			if len(statuses) == 0 || !slices.Equal(failed, want) {
				t.Errorf("%s (block %d): statuses %v, want 2xx except %v\n%s\noutput:\n%s", f, i, statuses, want, block, out)
			}
			if m := keyID.FindStringSubmatch(out); m != nil {
				env["KID"] = m[1]
			}
		}
	}
	if ran < 20 {
		t.Fatalf("only %d curl blocks ran; the docs have more", ran)
	}
}

var (
	fence        = regexp.MustCompile("(?ms)^```sh\\n(.*?)^```")
	expectStatus = regexp.MustCompile(`\(HTTP (\d{3})\)`)
	destroysOrg  = regexp.MustCompile(`-X DELETE "\$LIKENESS/v1/organization"`)
	keyID        = regexp.MustCompile(`"id":"([0-9a-f-]{36})","prefix"`)
	// A line that sets one of the variables the reader already has (the
	// test's values win): KID=95b0…   # comment
	placeholderVar = regexp.MustCompile(`(?m)^(LIKENESS|KEY|COL|FID|KID)=\S+\s*(#.*)?$`)
)

// curlBlocks returns the ```sh blocks that call curl.
func curlBlocks(md string) []string {
	var out []string
	for _, m := range fence.FindAllStringSubmatch(md, -1) {
		if regexp.MustCompile(`(^|\s|\|)curl\s`).MatchString(m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// runBlock runs a block with bash in dir and returns its output and the
// HTTP status of every curl call it made, in order.
func runBlock(t *testing.T, name, block, dir string, env map[string]string) (string, []string) {
	t.Helper()
	script := "set -euo pipefail\n" +
		"curl() { command curl -sS -w '%{stderr}HTTP_STATUS %{http_code}\\n' \"$@\"; }\n" +
		placeholderVar.ReplaceAllString(block, "")
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LC_ALL=C"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("%s: %v\n%s\nstderr: %s", name, err, block, stderr.String())
	}
	var statuses []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if s, ok := strings.CutPrefix(line, "HTTP_STATUS "); ok {
			statuses = append(statuses, s)
		} else if strings.TrimSpace(line) != "" {
			t.Errorf("%s: stderr: %s", name, line)
		}
	}
	return stdout.String(), statuses
}

// aFace returns the Facial ID of the newest face of the application,
// enrolling one (not from the docs) when the collection is empty, so that
// every example about "a face" has one to act on.
func (h *harness) aFace(t *testing.T) string {
	t.Helper()
	var app struct {
		CollectionID string `json:"collectionId"`
	}
	_, body, _ := h.call("GET", "/v1/application", h.apiKey, nil)
	_ = json.Unmarshal(body, &app)
	var list struct {
		Faces []struct {
			FacialID string `json:"facialId"`
		} `json:"faces"`
	}
	code, body, _ := h.call("GET", "/v1/collections/"+app.CollectionID+"/faces?limit=1", h.apiKey, nil)
	if code != 200 || json.Unmarshal(body, &list) != nil {
		t.Fatalf("list faces: %d %s", code, body)
	}
	if len(list.Faces) > 0 {
		return list.Faces[0].FacialID
	}
	code, body, _ = h.call("POST", "/v1/collections/"+app.CollectionID+"/faces", h.apiKey, map[string]any{
		"images": []string{photo(t, "verify/face_recognition/fr_obama/obama.jpg")}, "externalId": "setup", "consent": consentJSON(),
	})
	var f struct {
		FacialID string `json:"facialId"`
	}
	if code != 201 || json.Unmarshal(body, &f) != nil {
		t.Fatalf("enroll a face for the examples: %d %s", code, body)
	}
	return f.FacialID
}

// bigPhoto writes src scaled up 3× (nearest neighbour) as a high-quality JPEG (a phone photo's
// size) and returns its size in bytes.
func bigPhoto(t *testing.T, src, dst string) int {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	big := image.NewRGBA(image.Rect(0, 0, b.Dx()*3, b.Dy()*3))
	for y := range b.Dy() * 3 {
		for x := range b.Dx() * 3 {
			big.Set(x, y, img.At(b.Min.X+x/3, b.Min.Y+y/3))
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, big, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}
