package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/consent"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/store/sqlite"
)

const testOrigin = "https://shop.example"

// The engine is loaded once for the package: loading models takes a second.
var (
	engOnce sync.Once
	engErr  error
	eng     *engine.Engine
)

func TestMain(m *testing.M) {
	code := m.Run()
	if eng != nil {
		eng.Close()
	}
	os.Exit(code)
}

func facesDir(tb testing.TB) string {
	tb.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", "..", "shared", "faces"))
	if _, err := os.Stat(filepath.Join(dir, "labels.csv")); err != nil {
		tb.Skipf("SKIP: the shared face set is absent (%s); session tests stream real frames from ../shared/faces", dir)
	}
	return dir
}

func testEngine(tb testing.TB) *engine.Engine {
	tb.Helper()
	engOnce.Do(func() { eng, engErr = engine.New(engine.Config{ModelsDir: filepath.Join("..", "models")}) })
	if engErr != nil {
		tb.Fatalf("engine: %v (run `make build`)", engErr)
	}
	return eng
}

type harness struct {
	t      testing.TB
	srv    *Server
	ts     *httptest.Server
	db     *sqlite.DB
	dir    string // the store's directory
	app    *likeness.Application
	apiKey string
	log    *bytes.Buffer
	clock  *testClock
}

// testClock is an adjustable clock.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

func newHarness(t testing.TB, lim Limits, opts ...func(*Config)) *harness {
	t.Helper()
	return newHarnessStore(t, lim, nil, opts...)
}

// newHarnessStore is newHarness with the store's options adjusted by store.
func newHarnessStore(t testing.TB, lim Limits, store func(*sqlite.Options), opts ...func(*Config)) *harness {
	t.Helper()
	return newHarnessAt(t, lim, "", store, opts...)
}

// newHarnessAt is newHarnessStore with the store at target (a PostgreSQL
// URL; "" means a new SQLite file in a temporary directory).
func newHarnessAt(t testing.TB, lim Limits, target string, store func(*sqlite.Options), opts ...func(*Config)) *harness {
	t.Helper()
	facesDir(t)
	clock := &testClock{}
	dir := t.TempDir()
	if target == "" {
		target = filepath.Join(dir, "likeness.db")
	}
	so := sqlite.Options{Now: clock.Now, MasterKey: bytes.Repeat([]byte{7}, 32)}
	if store != nil {
		store(&so)
	}
	db, err := sqlite.Open(context.Background(), target, so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	app, sec, err := db.CreateApp(ctx, likeness.AppCreate{Name: "Shop", Origins: []string{testOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	h := &harness{t: t, db: db, dir: dir, app: app, apiKey: sec.APIKey, log: logs, clock: clock}
	cfg := Config{
		PublicURL: "http://likeness.test", Apps: db, Consent: consent.New(db, clock.Now, consent.WithPublicURL("http://likeness.test")), Faces: db, Keys: db, API: db, Policy: db, Identify: db, Webhooks: db, Throttles: db,
		Engine: testEngine(t), Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, nil)), Limits: lim,
		Now: clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	h.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		h.ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return h
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// client is a widget stand-in speaking the protocol over a real WebSocket.
type client struct {
	t    testing.TB
	conn *websocket.Conn
}

func (h *harness) dial(op, origin string) (*client, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/widget/ws?publicId=" + h.app.PublicID + "&op=" + op
	hdr := http.Header{}
	if origin != "" {
		hdr.Set("Origin", origin)
	}
	conn, resp, err := websocket.DefaultDialer.Dial(u, hdr)
	if err != nil {
		return nil, resp, err
	}
	h.t.Cleanup(func() { conn.Close() })
	return &client{t: h.t, conn: conn}, resp, nil
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) recv() map[string]any {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var m map[string]any
	if err := c.conn.ReadJSON(&m); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// expect reads until a message of type typ (skipping guidance).
func (c *client) expect(typ string) map[string]any {
	c.t.Helper()
	for {
		m := c.recv()
		if m["type"] == typ {
			return m
		}
		if m["type"] != "guide" {
			c.t.Fatalf("got %v, want a %q message", m, typ)
		}
	}
}

// stream sends frames in turn (looping), one per reply and at most 10 a
// second (the widget's pace), until the server sends something other than
// guidance, and returns it.
func (c *client) stream(frames [][]byte) map[string]any {
	c.t.Helper()
	var last time.Time
	for i := 0; i < 400; i++ {
		time.Sleep(time.Until(last.Add(cameraInterval)))
		last = time.Now()
		if err := c.conn.WriteMessage(websocket.BinaryMessage, frames[i%len(frames)]); err != nil {
			// The server may have ended the session (and closed) before
			// this frame: its last message is still there to read.
			return c.recv()
		}
		m := c.recv()
		if m["type"] != "guide" {
			return m
		}
	}
	c.t.Fatal("no decision after 400 frames")
	return nil
}

// cameraInterval is the time between frames of a test client: 10 fps, the
// server's default maxFps.
const cameraInterval = 100 * time.Millisecond

// begin starts an operation and, for enrollment, accepts the consent notice.
func (c *client) begin(op string, payload any) {
	c.t.Helper()
	c.send(map[string]any{"type": "start", "locale": "en", "payload": payload})
	if op == opEnroll {
		n := c.expect("consent")
		if !strings.Contains(n["text"].(string), "/privacy/") {
			c.t.Errorf("the notice does not link to the privacy page: %v", n["text"])
		}
		c.send(map[string]any{"type": "consent", "accept": true, "version": n["version"], "sha256": n["sha256"]})
	}
	c.send(map[string]any{"type": "camera", "ok": true})
	c.expect("capture")
}

// clip returns every third frame of a clip (10 fps, as the widget sends).
func clip(t testing.TB, name string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(facesDir(t), "video", name))
	if err != nil {
		t.Fatal(err)
	}
	all := engine.SplitMJPEG(b)
	var out [][]byte
	for i := 0; i < len(all); i += 3 {
		out = append(out, all[i])
	}
	return out
}

// nuaaClip returns every second frame (up to 60) of a clip of
// ../shared/nuaa/video: live webcam captures of other people than the
// faces set's clip.
func nuaaClip(t testing.TB, name string) [][]byte {
	t.Helper()
	all := nuaaFrames(t, name)
	var out [][]byte
	for i := 0; i < len(all) && len(out) < 60; i += 3 { // 30 fps played at 10
		out = append(out, all[i])
	}
	return out
}

// nuaaFrames returns every frame of a clip of ../shared/nuaa/video.
func nuaaFrames(t testing.TB, name string) [][]byte {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", "..", "shared", "nuaa", "video"))
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Skipf("SKIP: the NUAA clips are absent (%s): %v", dir, err)
	}
	return engine.SplitMJPEG(b)
}

// stranger streams the live webcam clip of someone else than the faces
// set's clip, as that person would: when asked to turn (a person who keeps
// still is), with real frames of their head turned.
func (c *client) stranger(t *testing.T) map[string]any {
	c.t.Helper()
	left, right := turnedFramesOf(t, nuaaFrames(t, strangerClip), -18)
	return c.follow(nuaaClip(t, strangerClip), left, right)
}

// jittered makes camera-like frames from one photo: 640×480 crops around
// the centre shifted by a few pixels each, as a person moving slightly.
func jittered(t testing.TB, rel string, n int) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(facesDir(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	var out [][]byte
	for i := 0; i < n; i++ {
		dx, dy := (i%3-1)*6, (i%2)*5
		dst := image.NewRGBA(image.Rect(0, 0, 640, 480))
		// nearest-neighbour fit of the photo into 640×480 (letterboxed).
		scale := min(640/float64(b.Dx()), 480/float64(b.Dy()))
		ox, oy := (640-scale*float64(b.Dx()))/2+float64(dx), (480-scale*float64(b.Dy()))/2+float64(dy)
		for y := 0; y < 480; y++ {
			for x := 0; x < 640; x++ {
				sx, sy := int((float64(x)-ox)/scale), int((float64(y)-oy)/scale)
				if sx >= 0 && sy >= 0 && sx < b.Dx() && sy < b.Dy() {
					dst.Set(x, y, src.At(b.Min.X+sx, b.Min.Y+sy))
				}
			}
		}
		var buf bytes.Buffer
		jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 90})
		out = append(out, buf.Bytes())
	}
	return out
}

func (h *harness) faceCount() int {
	n, err := h.db.CountFaces(context.Background(), h.app.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// verifyToken checks a result token against the server's JWKS.
func (h *harness) verifyToken(token, wantSub, wantOp string) {
	h.t.Helper()
	resp, err := http.Get(h.ts.URL + "/.well-known/jwks.json")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Crv, X, Y, Kid, Alg string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) != 1 {
		h.t.Fatalf("jwks: %v %+v", err, set)
	}
	k := set.Keys[0]
	x, _ := base64.RawURLEncoding.DecodeString(k.X)
	y, _ := base64.RawURLEncoding.DecodeString(k.Y)
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	var claims ResultClaims
	tok, err := jwt.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != k.Kid {
			h.t.Errorf("kid %v, want %s", t.Header["kid"], k.Kid)
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(h.app.PublicID),
		jwt.WithIssuer("http://likeness.test"), jwt.WithExpirationRequired())
	if err != nil || !tok.Valid {
		h.t.Fatalf("token does not verify: %v", err)
	}
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if !strings.Contains(string(payload), `"aud":"`+h.app.PublicID+`"`) {
		h.t.Errorf("aud is not the public ID as a string: %s", payload)
	}
	if claims.Subject != wantSub || claims.Op != wantOp || claims.ID == "" || claims.Purpose != likeness.PurposeResult {
		h.t.Errorf("claims %+v, want sub %s op %s", claims, wantSub, wantOp)
	}
	if ttl := claims.ExpiresAt.Sub(claims.IssuedAt.Time); ttl <= 0 || ttl > 5*time.Minute {
		h.t.Errorf("token lifetime %v", ttl)
	}
}

// strangerClip is a live webcam clip of someone else than the faces set's
// live clip; the head turns to the right in it.
const strangerClip = "live_nuaa_0006_00_00_01_640x480.mjpeg"

// noLeak asserts a server message carries nothing internal.
func noLeak(t *testing.T, m map[string]any) {
	t.Helper()
	b, _ := json.Marshal(m)
	for _, bad := range []string{"score", "similarity", "liveness\":", "embedding", "threshold", "sqlite", "onnx", "panic"} {
		if strings.Contains(strings.ToLower(string(b)), bad) {
			t.Errorf("reply %s contains %q", b, bad)
		}
	}
}

func TestEnrollThenAuthenticate(t *testing.T) {
	h := newHarness(t, Limits{})
	live := clip(t, "live_lmm_hamilton_640x480.mjpeg")

	c, _, err := h.dial(opEnroll, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	c.begin(opEnroll, map[string]any{"user": "ada@example.com"})
	res := c.stream(live)
	noLeak(t, res)
	if res["type"] != "result" {
		t.Fatalf("enroll: %v", res)
	}
	facialID, _ := res["facialId"].(string)
	if _, err := uuid.Parse(facialID); err != nil {
		t.Fatalf("facialId %q is not a UUID", facialID)
	}
	if _, err := time.Parse(time.RFC3339, res["timestamp"].(string)); err != nil {
		t.Errorf("timestamp: %v", err)
	}
	h.verifyToken(res["token"].(string), facialID, opEnroll)
	if h.faceCount() != 1 {
		t.Fatalf("%d faces stored", h.faceCount())
	}
	// The enrollment is audited as the widget session (docs/api.md).
	entries, err := h.db.AuditEntries(context.Background(), h.app.OrgID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	enrolled := false
	for _, e := range entries {
		if e.Target == facialID && e.Action == "facialid.enrolled" {
			enrolled = true
			if _, err := uuid.Parse(strings.TrimPrefix(e.Actor, "widget:")); err != nil || !strings.HasPrefix(e.Actor, "widget:") {
				t.Errorf("enrollment audited as %q, want widget:<session>", e.Actor)
			}
		}
	}
	if !enrolled {
		t.Errorf("no facialid.enrolled entry for %s in %d entries", facialID, len(entries))
	}

	// The same person, later frames of the clip.
	a, _, err := h.dial(opAuthenticate, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	a.begin(opAuthenticate, nil)
	res = a.stream(live[len(live)/2:])
	noLeak(t, res)
	if res["type"] != "result" || res["facialId"] != facialID {
		t.Fatalf("authenticate: %v, want facialId %s", res, facialID)
	}
	if p, _ := res["payload"].(map[string]any); p["user"] != "ada@example.com" {
		t.Errorf("payload %v", res["payload"])
	}
	h.verifyToken(res["token"].(string), facialID, opAuthenticate)

	// A different person is not recognised.
	o, _, _ := h.dial(opAuthenticate, testOrigin)
	o.begin(opAuthenticate, nil)
	res = o.stranger(t)
	if res["type"] != "error" || res["code"] != float64(likeness.FioUnrecognizedFace) {
		t.Fatalf("stranger: %v, want error 3", res)
	}
	noLeak(t, res)
	if strings.Contains(h.log.String(), "ada@example.com") {
		t.Error("the payload was logged")
	}
}

// failing opens an operation, runs do, and checks the error code and that
// nothing was stored.
func TestRefusals(t *testing.T) {
	h := newHarness(t, Limits{IdleTimeout: 2 * time.Second})
	live := clip(t, "live_lmm_hamilton_640x480.mjpeg")
	for _, tc := range []struct {
		name string
		op   string
		code likeness.FioCode
		msg  string // part of the message
		do   func(c *client) map[string]any
	}{
		{"decline consent", opEnroll, likeness.FioTermsNotAccepted, "declined", func(c *client) map[string]any {
			c.send(map[string]any{"type": "start", "locale": "en"})
			n := c.expect("consent")
			c.send(map[string]any{"type": "consent", "accept": false, "version": n["version"], "sha256": n["sha256"]})
			return c.recv()
		}},
		{"accept a stale notice", opEnroll, likeness.FioTermsNotAccepted, "current", func(c *client) map[string]any {
			c.send(map[string]any{"type": "start", "locale": "en"})
			n := c.expect("consent")
			c.send(map[string]any{"type": "consent", "accept": true, "version": n["version"], "sha256": strings.Repeat("0", 64)})
			return c.recv()
		}},
		{"frames before consent", opEnroll, likeness.FioProcessingErr, "before capture", func(c *client) map[string]any {
			c.send(map[string]any{"type": "start", "locale": "en"})
			c.expect("consent")
			c.conn.WriteMessage(websocket.BinaryMessage, live[0])
			return c.recv()
		}},
		{"frames before start", opAuthenticate, likeness.FioProcessingErr, "before capture", func(c *client) map[string]any {
			c.conn.WriteMessage(websocket.BinaryMessage, live[0])
			return c.recv()
		}},
		{"malformed json", opEnroll, likeness.FioProcessingErr, "Malformed", func(c *client) map[string]any {
			c.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"start",`))
			return c.recv()
		}},
		{"unknown message", opEnroll, likeness.FioProcessingErr, "Unknown", func(c *client) map[string]any {
			c.send(map[string]any{"type": "hello"})
			return c.recv()
		}},
		{"payload too large", opEnroll, likeness.FioProcessingErr, "16 KB", func(c *client) map[string]any {
			c.send(map[string]any{"type": "start", "payload": strings.Repeat("x", 17<<10)})
			return c.recv()
		}},
		{"corrupt frame", opAuthenticate, likeness.FioProcessingErr, "not a valid image", func(c *client) map[string]any {
			c.begin(opAuthenticate, nil)
			c.conn.WriteMessage(websocket.BinaryMessage, live[0][:len(live[0])/3])
			return c.recv()
		}},
		{"oversized frame", opAuthenticate, likeness.FioProcessingErr, "larger than", func(c *client) map[string]any {
			c.begin(opAuthenticate, nil)
			c.conn.WriteMessage(websocket.BinaryMessage, append(append([]byte{}, live[0]...), make([]byte, 600<<10)...))
			return c.recv()
		}},
		{"camera denied", opEnroll, likeness.FioPermissionRefused, "camera", func(c *client) map[string]any {
			c.send(map[string]any{"type": "start"})
			c.expect("consent")
			c.send(map[string]any{"type": "camera", "ok": false, "error": "denied"})
			return c.recv()
		}},
		{"replayed tablet clip", opEnroll, likeness.FioPADAttack, "liveness", func(c *client) map[string]any {
			c.begin(opEnroll, nil)
			return c.stream(clip(t, "spoof_replay_silentface_F2_640x480.mjpeg"))
		}},
		{"several faces", opEnroll, likeness.FioManyFaces, "Several", func(c *client) map[string]any {
			c.begin(opEnroll, nil)
			return c.stream(jittered(t, "controls/two_people.jpg", 3))
		}},
		{"no face", opAuthenticate, likeness.FioNoFacesDetected, "No face", func(c *client) map[string]any {
			c.begin(opAuthenticate, nil)
			frames := jittered(t, "controls/landscape.jpg", 1)
			for {
				c.conn.WriteMessage(websocket.BinaryMessage, frames[0])
				if m := c.recv(); m["type"] != "guide" {
					return m
				}
				time.Sleep(100 * time.Millisecond)
			}
		}},
		{"two people take turns", opEnroll, likeness.FioFaceMismatch, "different", func(c *client) map[string]any {
			c.begin(opEnroll, nil)
			a := jittered(t, "verify/face_recognition/fr_obama/obama.jpg", 3)
			b := jittered(t, "verify/face_recognition/fr_biden/biden2.jpg", 3)
			return c.stream([][]byte{a[0], b[0], a[1], b[1], a[2], b[2]})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.faceCount()
			c, _, err := h.dial(tc.op, testOrigin)
			if err != nil {
				t.Fatal(err)
			}
			c.t = t
			m := tc.do(c)
			if m["type"] != "error" || m["code"] != float64(tc.code) || m["name"] != tc.code.String() {
				t.Fatalf("got %v, want error %d", m, tc.code)
			}
			if msg, _ := m["message"].(string); !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not say %q", msg, tc.msg)
			}
			noLeak(t, m)
			if n := h.faceCount(); n != before {
				t.Errorf("faces %d → %d: a refused operation stored a face", before, n)
			}
		})
	}
}

func TestAdmission(t *testing.T) {
	h := newHarness(t, Limits{})
	for _, tc := range []struct {
		name, query, origin string
		status              int
		fio                 likeness.FioCode
	}{
		{"allowed", "publicId=" + h.app.PublicID + "&op=enroll", testOrigin, 200, 0},
		{"origin case and default port", "publicId=" + h.app.PublicID + "&op=authenticate", "HTTPS://Shop.Example:443", 200, 0},
		{"hostile origin", "publicId=" + h.app.PublicID + "&op=enroll", "https://evil.example", 403, likeness.FioForbiddenOrigin},
		{"look-alike origin", "publicId=" + h.app.PublicID + "&op=enroll", "https://shop.example.evil.example", 403, likeness.FioForbiddenOrigin},
		{"empty origin", "publicId=" + h.app.PublicID + "&op=enroll", "", 403, likeness.FioEmptyOrigin},
		{"same-origin fetch of a foreign app", "publicId=" + h.app.PublicID + "&op=enroll", "same-origin", 403, likeness.FioForbiddenOrigin},
		{"unknown application", "publicId=app_nope&op=enroll", testOrigin, 404, likeness.FioUnauthorized},
		{"bad op", "publicId=" + h.app.PublicID + "&op=delete", testOrigin, 400, likeness.FioProcessingErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/widget/check", "/widget/ws"} {
				req, _ := http.NewRequest("GET", h.ts.URL+path+"?"+tc.query, nil)
				switch tc.origin {
				case "":
				case "same-origin": // a browser's same-origin GET carries no Origin
					req.Header.Set("Sec-Fetch-Site", "same-origin")
				default:
					req.Header.Set("Origin", tc.origin)
				}
				if path == "/widget/ws" {
					req.Header.Set("Connection", "Upgrade")
					req.Header.Set("Upgrade", "websocket")
					req.Header.Set("Sec-WebSocket-Version", "13")
					req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var body []byte
				if resp.StatusCode != http.StatusSwitchingProtocols {
					body, _ = io.ReadAll(resp.Body)
				}
				resp.Body.Close()
				want := tc.status
				if path == "/widget/ws" && want == 200 {
					want = http.StatusSwitchingProtocols
				}
				if resp.StatusCode != want {
					t.Fatalf("%s: status %d, want %d (%s)", path, resp.StatusCode, want, body)
				}
				if tc.fio != 0 {
					var eb errorBody
					if err := json.Unmarshal(body, &eb); err != nil || eb.FioCode != tc.fio || eb.Error.Message == "" {
						t.Errorf("%s: body %s, want fioCode %d", path, body, tc.fio)
					}
				}
			}
		})
	}
}

func TestShutdownEndsOpenSessions(t *testing.T) {
	h := newHarness(t, Limits{})
	c, _, err := h.dial(opAuthenticate, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	c.begin(opAuthenticate, nil)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- h.srv.Shutdown(ctx)
	}()
	m := c.recv()
	if m["type"] != "error" {
		t.Fatalf("got %v, want an error reply on shutdown", m)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// readShared reads a file of the shared face set.
func readShared(t testing.TB, rel string) ([]byte, error) {
	return os.ReadFile(filepath.Join(facesDir(t), filepath.FromSlash(rel)))
}
