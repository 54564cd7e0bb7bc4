package server

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/geoip"
	"github.com/likeness/likeness/geoip/geoiptest"
)

// setPolicy changes the application's settings through the REST API.
func (h *harness) setPolicy(patch map[string]any) {
	h.t.Helper()
	if st, body, _ := h.call("PATCH", "/v1/settings", h.apiKey, patch); st != 200 {
		h.t.Fatalf("settings %v: %d %s", patch, st, body)
	}
}

// wantError checks a final error message and that nothing was stored.
func wantError(t *testing.T, m map[string]any, code likeness.FioCode) {
	t.Helper()
	if m["type"] != "error" || m["code"] != float64(code) {
		t.Fatalf("got %v, want error %d %s", m, code, code)
	}
	noLeak(t, m)
}

// answerPIN sends a PIN and returns the server's next message.
func (c *client) answerPIN(pin string) map[string]any {
	c.t.Helper()
	c.send(map[string]any{"type": "pin", "pin": pin})
	return c.recv()
}

func wantPIN(t *testing.T, m map[string]any, reason string) {
	t.Helper()
	if m["type"] != "pin" || m["reason"] != reason {
		t.Fatalf("got %v, want a PIN request (%s)", m, reason)
	}
}

func TestSettingsAPI(t *testing.T) {
	h := newHarness(t, Limits{})
	st, body, _ := h.call("GET", "/v1/settings", h.apiKey, nil)
	if st != 200 || !strings.Contains(string(body), `"pin":"off"`) || !strings.Contains(string(body), testOrigin) {
		t.Fatalf("%d %s", st, body)
	}
	_, member, _ := h.call("POST", "/v1/keys", h.apiKey, map[string]any{"role": "member"})
	var mk struct{ Key string }
	json.Unmarshal(member, &mk)
	for _, tc := range []struct {
		name   string
		key    string
		patch  any
		status int
		want   string
	}{
		{"unknown setting", h.apiKey, map[string]any{"pinn": "on"}, 400, "Unknown setting"},
		{"null", h.apiKey, map[string]any{"pin": nil}, 400, "cannot be null"},
		{"bad pin mode", h.apiKey, map[string]any{"pin": "sometimes"}, 400, "pin must be"},
		{"bad pin length", h.apiKey, map[string]any{"pinMinLength": 3}, 400, "pinMinLength"},
		{"bad country", h.apiKey, map[string]any{"allowedCountries": []string{"France"}}, 400, "ISO 3166"},
		{"countries without a source", h.apiKey, map[string]any{"allowedCountries": []string{"FR"}}, 412, "--geoip-db"},
		{"bad origin saves nothing", h.apiKey, map[string]any{"pin": "required", "allowedOrigins": []string{"ftp://x"}}, 400, "Origin"},
		{"member cannot change", mk.Key, map[string]any{"pin": "required"}, 403, "owner"},
		{"wrong type", h.apiKey, map[string]any{"preventMinors": "yes"}, 400, "wrong type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := h.call("PATCH", "/v1/settings", tc.key, tc.patch)
			if st != tc.status || !strings.Contains(string(body), tc.want) {
				t.Fatalf("%d %s", st, body)
			}
		})
	}
	if _, body, _ := h.call("GET", "/v1/settings", h.apiKey, nil); !strings.Contains(string(body), `"pin":"off"`) {
		t.Fatalf("a refused change was saved: %s", body)
	}
}

func TestPolicyOrigins(t *testing.T) {
	h := newHarness(t, Limits{})
	h.setPolicy(map[string]any{"allowedOrigins": []string{"https://new.example"}})
	if _, resp, err := h.dial(opEnroll, testOrigin); err == nil || resp.StatusCode != 403 {
		t.Fatalf("the old origin was admitted: %v", err)
	}
	if _, _, err := h.dial(opEnroll, "https://new.example"); err != nil {
		t.Fatalf("the new origin was refused: %v", err)
	}
	if _, resp, err := h.dial(opEnroll, ""); err == nil || resp.StatusCode != 403 {
		t.Fatal("an empty origin was admitted by default")
	}
	h.setPolicy(map[string]any{"rejectEmptyOrigin": false})
	if _, _, err := h.dial(opEnroll, ""); err != nil {
		t.Fatalf("an empty origin was refused with rejectEmptyOrigin off: %v", err)
	}
}

func TestPolicyCountries(t *testing.T) {
	db, err := geoip.Open(geoiptest.Write(t, map[string]string{"127.0.0.0/8": "FR", "::1/128": "FR"}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := newHarness(t, Limits{}, func(c *Config) { c.Network = Network{Countries: db} })
	h.setPolicy(map[string]any{"allowedCountries": []string{"de", "AT"}})
	_, resp, err := h.dial(opEnroll, testOrigin)
	if err == nil || resp.StatusCode != 403 {
		t.Fatal("a client from FR was admitted to a DE/AT application")
	}
	var eb errorBody
	json.NewDecoder(resp.Body).Decode(&eb)
	if eb.FioCode != likeness.FioForbiddenCountry {
		t.Fatalf("fioCode %d, want 18", eb.FioCode)
	}
	h.setPolicy(map[string]any{"allowedCountries": []string{"FR"}})
	if _, _, err := h.dial(opEnroll, testOrigin); err != nil {
		t.Fatalf("a client from FR was refused: %v", err)
	}

	// From a trusted proxy's header instead.
	hp := newHarness(t, Limits{}, func(c *Config) {
		c.Network = Network{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
			CountryHeader: "CF-IPCountry"}
	})
	hp.setPolicy(map[string]any{"allowedCountries": []string{"DE"}})
	for country, want := range map[string]int{"DE": 200, "FR": 403, "": 403} {
		req, _ := http.NewRequest("GET", hp.ts.URL+"/widget/check?op=enroll&publicId="+hp.app.PublicID, nil)
		req.Header.Set("Origin", testOrigin)
		if country != "" {
			req.Header.Set("CF-IPCountry", country)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("country %q: %d, want %d", country, resp.StatusCode, want)
		}
	}
}

// TestClientIPAndCountryTrustOnlyProxies: headers count only from trusted
// proxies, so a client cannot spoof its address or country.
func TestClientIPAndCountryTrustOnlyProxies(t *testing.T) {
	n := Network{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, CountryHeader: "CF-IPCountry"}
	for _, tc := range []struct {
		remote, xff, country string
		wantIP, wantCountry  string
	}{
		{"203.0.113.5:1234", "198.51.100.7", "DE", "203.0.113.5", ""},                // untrusted peer: headers ignored
		{"10.1.2.3:1234", "198.51.100.7", "DE", "198.51.100.7", "DE"},                // trusted proxy
		{"10.1.2.3:1234", "6.6.6.6, 198.51.100.7, 10.9.9.9", "", "198.51.100.7", ""}, // rightmost untrusted hop
		{"10.1.2.3:1234", "garbage", "", "10.1.2.3", ""},                             // malformed chain
		{"[2001:db8::1]:443", "198.51.100.7", "FR", "2001:db8::1", ""},               // IPv6 untrusted
		{"10.1.2.3:1234", "", "fr", "10.1.2.3", "FR"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if tc.country != "" {
			r.Header.Set("CF-IPCountry", tc.country)
		}
		if got := n.ClientIP(r).String(); got != tc.wantIP {
			t.Errorf("%s %q: client %s, want %s", tc.remote, tc.xff, got, tc.wantIP)
		}
		if got := n.country(r); got != tc.wantCountry {
			t.Errorf("%s %q: country %q, want %q", tc.remote, tc.country, got, tc.wantCountry)
		}
	}
}

func TestPolicyPINs(t *testing.T) {
	h := newHarness(t, Limits{})
	live := clip(t, "live_lmm_hamilton_640x480.mjpeg")
	h.setPolicy(map[string]any{"pin": "required", "uniquePins": true, "maxFailedAuth": 100})

	c, _, _ := h.dial(opEnroll, testOrigin)
	c.begin(opEnroll, nil)
	wantPIN(t, c.stream(live), "enroll")
	wantPIN(t, c.answerPIN("1111"), "retry") // weak
	wantPIN(t, c.answerPIN("12a4"), "retry") // not digits
	wantPIN(t, c.answerPIN("4829"), "confirm")
	wantPIN(t, c.answerPIN("4830"), "retry") // confirmation differs: start over
	wantPIN(t, c.answerPIN("4829"), "confirm")
	res := c.answerPIN("4829")
	if res["type"] != "result" {
		t.Fatalf("enroll: %v", res)
	}
	fid := res["facialId"].(string)

	// Another person may not take the same PIN (UNIQUE_PIN_REQUIRED is not fatal).
	o, _, _ := h.dial(opEnroll, testOrigin)
	o.begin(opEnroll, nil)
	wantPIN(t, o.stranger(t), "enroll")
	wantPIN(t, o.answerPIN("4829"), "unique")
	wantPIN(t, o.answerPIN("5173"), "confirm")
	if m := o.answerPIN("5173"); m["type"] != "result" {
		t.Fatalf("second enroll: %v", m)
	}

	// Three wrong PINs: WRONG_PIN_CODE, no token.
	a, _, _ := h.dial(opAuthenticate, testOrigin)
	a.begin(opAuthenticate, nil)
	wantPIN(t, a.stream(live[10:]), "authenticate")
	wantPIN(t, a.answerPIN("0000"), "retry")
	wantPIN(t, a.answerPIN("4828"), "retry")
	wantError(t, a.answerPIN("4827"), likeness.FioWrongPINCode)

	// The right PIN.
	b, _, _ := h.dial(opAuthenticate, testOrigin)
	b.begin(opAuthenticate, nil)
	wantPIN(t, b.stream(live[10:]), "authenticate")
	if m := b.answerPIN("4829"); m["type"] != "result" || m["facialId"] != fid {
		t.Fatalf("right PIN: %v", m)
	}

	// Lockout after maxFailedAuth wrong PINs, across sessions.
	h.setPolicy(map[string]any{"maxFailedAuth": 2})
	l, _, _ := h.dial(opAuthenticate, testOrigin)
	l.begin(opAuthenticate, nil)
	wantPIN(t, l.stream(live[20:]), "authenticate")
	wantPIN(t, l.answerPIN("1357"), "retry")
	wantError(t, l.answerPIN("1358"), likeness.FioTooManyRequests)
	k, _, _ := h.dial(opAuthenticate, testOrigin)
	k.begin(opAuthenticate, nil)
	wantError(t, k.stream(live[20:]), likeness.FioTooManyRequests)
	if h.faceCount() != 2 {
		t.Fatalf("%d faces", h.faceCount())
	}
}

func TestPolicyAmbiguousMatchAsksForPIN(t *testing.T) {
	h := newHarness(t, Limits{})
	live := clip(t, "live_lmm_hamilton_640x480.mjpeg")
	// The same person enrolled twice (duplicates allowed): every probe is
	// close to both.
	h.setPolicy(map[string]any{"preventDuplicates": false})
	ids := []string{}
	for _, frames := range [][][]byte{live[:12], live[:12]} {
		c, _, _ := h.dial(opEnroll, testOrigin)
		c.begin(opEnroll, nil)
		res := c.stream(frames)
		if res["type"] != "result" {
			t.Fatalf("enroll: %v", res)
		}
		ids = append(ids, res["facialId"].(string))
	}
	// Without PINs nothing can tell them apart: refused, not guessed.
	a, _, _ := h.dial(opAuthenticate, testOrigin)
	a.begin(opAuthenticate, nil)
	wantError(t, a.stream(live[24:]), likeness.FioUnrecognizedFace)

	// With PINs the PIN decides.
	ctx := context.Background()
	h.db.SetPIN(ctx, h.app.ID, ids[0], "2468")
	h.db.SetPIN(ctx, h.app.ID, ids[1], "9753")
	h.setPolicy(map[string]any{"pin": "optional"})
	b, _, _ := h.dial(opAuthenticate, testOrigin)
	b.begin(opAuthenticate, nil)
	wantPIN(t, b.stream(live[24:]), "authenticate")
	if m := b.answerPIN("9753"); m["type"] != "result" || m["facialId"] != ids[1] {
		t.Fatalf("got %v, want %s", m, ids[1])
	}
}

func TestPolicyDuplicatesAndMinors(t *testing.T) {
	h := newHarness(t, Limits{})
	live := clip(t, "live_lmm_hamilton_640x480.mjpeg")
	// The clip's adult (~35) is estimated 19–48 frame by frame, median ≈ 26
	// (docs/age.md): at minimum age 18 (threshold 27.6) some five-frame
	// windows refuse him; at 13 (threshold 19.9) none does.
	h.setPolicy(map[string]any{"preventDuplicates": true, "preventMinors": true, "minimumAge": 13})
	c, _, _ := h.dial(opEnroll, testOrigin)
	c.begin(opEnroll, nil)
	if res := c.stream(live); res["type"] != "result" {
		t.Fatalf("an adult was refused at minimum age 13: %v", res)
	}
	d, _, _ := h.dial(opEnroll, testOrigin)
	d.begin(opEnroll, nil)
	wantError(t, d.stream(live[30:]), likeness.FioFaceDuplication)

	// At a minimum age the estimate cannot reach, enrollment is refused.
	h.setPolicy(map[string]any{"preventDuplicates": false, "minimumAge": 60})
	m, _, _ := h.dial(opEnroll, testOrigin)
	m.begin(opEnroll, nil)
	wantError(t, m.stream(live[30:]), likeness.FioMinorsNotAllowed)
	if h.faceCount() != 1 {
		t.Fatalf("%d faces stored, want 1", h.faceCount())
	}
}

// mirror flips a JPEG frame left to right (a head turned the other way).
func mirror(t *testing.T, frame []byte) []byte {
	t.Helper()
	src, err := jpeg.Decode(bytes.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	dst := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			dst.Set(b.Max.X-1-(x-b.Min.X), y, src.At(x, y))
		}
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 90})
	return buf.Bytes()
}

// TestPolicyStrictLiveness: in strict mode the user must follow random
// prompts. A recording cannot; a person following them (here, real frames of
// a head turned each way, sent when asked) can.
func TestPolicyStrictLiveness(t *testing.T) {
	h := newHarness(t, Limits{})
	live := clip(t, "live_lmm_hamilton_640x480.mjpeg")
	h.setPolicy(map[string]any{"liveness": "strict"})
	left, right := turnedFrames(t)

	h.srv.prompts = []string{"turn_left", "turn_right"}
	c, _, _ := h.dial(opEnroll, testOrigin)
	c.begin(opEnroll, nil)
	if m := c.follow(live, left, right); m["type"] != "result" {
		t.Fatalf("following the prompts: %v", m)
	}

	// The recording played as it is does not follow the prompts.
	h.srv.prompts = challengePrompts[:]
	r, _, _ := h.dial(opAuthenticate, testOrigin)
	r.begin(opAuthenticate, nil)
	h.clock.Advance(0)
	res := r.stream(live)
	wantError(t, res, likeness.FioPADAttack)
}

// turnedFrames returns frames of the live clip's head turned to the
// person's right (yaw −22° to −32°) and their mirror images, turned left.
func turnedFrames(t *testing.T) (left, right [][]byte) {
	t.Helper()
	return turnedFramesOf(t, engine.SplitMJPEG(mustRead(t, "video/live_lmm_hamilton_640x480.mjpeg")), -22)
}

// turnedFramesOf returns the frames of a clip turned to the person's right
// (yaw from −32° to maxYaw) and their mirror images, turned left.
func turnedFramesOf(t *testing.T, frames [][]byte, maxYaw float32) (left, right [][]byte) {
	t.Helper()
	e := testEngine(t)
	for _, f := range frames {
		img, _ := e.Decode(f)
		faces, _ := e.Analyze(context.Background(), img, 0)
		if len(faces) == 1 && faces[0].Quality.Yaw <= maxYaw && faces[0].Quality.Yaw >= -32 {
			right = append(right, f)
		}
	}
	if len(right) == 0 {
		t.Fatal("the clip has no turned frames")
	}
	for _, f := range right {
		left = append(left, mirror(t, f))
	}
	return left, right
}

// follow streams the live clip at camera pace and, when prompted to turn,
// does as a person would: one more frame facing the camera, then the head
// turned that way. It returns the first message that is not guidance.
func (c *client) follow(live, left, right [][]byte) map[string]any {
	c.t.Helper()
	m := map[string]any{"type": "guide"}
	prompt := ""
	for i := 0; m["type"] == "guide" && i < 120; i++ {
		var f []byte
		switch hint := m["hint"]; {
		case hint != prompt && (hint == "turn_left" || hint == "turn_right"):
			prompt, f = hint.(string), live[0]
		case hint == "turn_left":
			f = left[i%len(left)]
		case hint == "turn_right":
			f = right[i%len(right)]
		default:
			f = live[i%len(live)]
		}
		time.Sleep(cameraInterval)
		if err := c.conn.WriteMessage(websocket.BinaryMessage, f); err != nil {
			return c.recv()
		}
		m = c.recv()
	}
	return m
}

func mustRead(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := readShared(t, rel)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPolicySessionRate(t *testing.T) {
	h := newHarness(t, Limits{})
	h.setPolicy(map[string]any{"sessionsPerIpPerMinute": 2})
	for i := 0; i < 2; i++ {
		if _, _, err := h.dial(opAuthenticate, testOrigin); err != nil {
			t.Fatalf("session %d refused: %v", i, err)
		}
	}
	_, resp, err := h.dial(opAuthenticate, testOrigin)
	if err == nil || resp.StatusCode != 429 {
		t.Fatal("the third session in a minute was admitted")
	}
	var eb errorBody
	json.NewDecoder(resp.Body).Decode(&eb)
	if eb.FioCode != likeness.FioTooManyRequests {
		t.Fatalf("fioCode %d", eb.FioCode)
	}
}
