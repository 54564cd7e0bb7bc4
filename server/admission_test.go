package server

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
)

func TestServableSessions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
		cost    time.Duration
		fps     int
		want    int
	}{
		{"not measured yet: no bound", 2, 0, 10, 0},
		{"2 workers, 20 ms a frame, 10 fps: 100 frames/s = 10 sessions", 2, 20 * time.Millisecond, 10, 10},
		{"a slower engine serves fewer", 2, 40 * time.Millisecond, 10, 5},
		{"rounded down: a session is served at full pace or not admitted", 2, 30 * time.Millisecond, 10, 6},
		{"one session at least, however slow", 1, time.Second, 10, 1},
		{"no workers", 0, 20 * time.Millisecond, 10, 0},
		{"a client asking more frames a second is given fewer sessions", 2, 20 * time.Millisecond, 40, 2},
	} {
		if got := servableSessions(tc.workers, tc.cost, tc.fps); got != tc.want {
			t.Errorf("%s: servableSessions(%d, %v, %d) = %d, want %d", tc.name, tc.workers, tc.cost, tc.fps, got, tc.want)
		}
	}
}

func TestRetryHint(t *testing.T) {
	for _, tc := range []struct{ session, want time.Duration }{
		{0, time.Second},                      // nothing measured yet
		{300 * time.Millisecond, time.Second}, // never less than a second
		{1200 * time.Millisecond, 2 * time.Second},
		{time.Minute, 10 * time.Second}, // a stalled session does not push clients away for long
	} {
		if got := retryHint(tc.session); got != tc.want {
			t.Errorf("retryHint(%v) = %v, want %v", tc.session, got, tc.want)
		}
	}
}

func TestAdmitSessionWithinCapacity(t *testing.T) {
	// Configured for 16; the engine serves 8 at full pace: 8 in all, 6 for
	// one application (a quarter of 8 kept for the others).
	for _, tc := range []struct {
		name     string
		use      slotUse
		servable int
		want     bool
	}{
		{"capacity not measured: the configured limit", slotUse{8, 0, 0}, 0, true},
		{"within capacity", slotUse{7, 0, 0}, 8, true},
		{"at capacity", slotUse{8, 0, 0}, 8, false},
		{"the busiest application keeps a quarter free", slotUse{6, 6, 0}, 8, false},
		{"another application takes the quarter", slotUse{6, 0, 0}, 8, true},
		{"capacity above the configured limit changes nothing", slotUse{16, 0, 0}, 100, false},
		{"a client address at its limit stays refused", slotUse{1, 1, 4}, 8, false},
	} {
		if got := admitSession(tc.use, 16, 4, tc.servable); got != tc.want {
			t.Errorf("%s: admitSession(%+v, servable %d) = %v, want %v", tc.name, tc.use, tc.servable, got, tc.want)
		}
	}
}

func TestCapacityMeasuresCostPerFrame(t *testing.T) {
	now := time.Unix(1e9, 0)
	var work time.Duration
	c := newCapacity(2, 10, func() time.Duration { return work }, func() time.Time { return now })
	frames := func(n int, each time.Duration, over time.Duration) {
		for range n {
			work += each
			now = now.Add(over / time.Duration(n))
			c.frameDone()
		}
	}
	if n, _ := c.sessions(); n != 0 {
		t.Fatalf("servable %d before any frame, want 0 (unbounded)", n)
	}
	frames(capacityMinFrames-1, 20*time.Millisecond, 2*time.Second)
	if n, _ := c.sessions(); n != 0 {
		t.Fatalf("servable %d from too few frames, want 0", n)
	}
	frames(1, 20*time.Millisecond, 0)
	if n, _ := c.sessions(); n != 10 {
		t.Fatalf("servable %d at 20 ms a frame on 2 workers at 10 fps, want 10", n)
	}
	// The engine slows down (a neighbour takes the CPU): capacity follows
	// within a few windows, not at once.
	frames(capacityMinFrames, 40*time.Millisecond, capacityWindow)
	n1, _ := c.sessions()
	for range 10 {
		frames(capacityMinFrames, 40*time.Millisecond, capacityWindow)
	}
	n2, _ := c.sessions()
	if !(n1 < 10 && n1 > n2 && n2 == 5) {
		t.Errorf("servable after the slow-down: %d then %d, want between 10 and 5, then 5", n1, n2)
	}
	c.sessionDone(1500 * time.Millisecond)
	if _, retry := c.sessions(); retry != 2*time.Second {
		t.Errorf("retry hint %v after 1.5 s sessions, want 2s", retry)
	}
}

// TestShedsBeyondEngineCapacity: once the engine's cost per frame is
// measured, a session the engine cannot serve at the widget's pace is
// refused at once with TOO_MANY_REQUESTS and a retry hint, on the
// pre-flight check and on the socket, while the admitted session goes on to
// its decision; when it ends, the next is admitted.
func TestShedsBeyondEngineCapacity(t *testing.T) {
	// At 200 frames a second per session no engine of this machine serves
	// two (that would need under 10 ms a frame on 2 workers).
	h := newHarness(t, Limits{DecisionFPS: 200})
	live := clip(t, "live_lmm_hamilton_640x480.mjpeg")

	e, _, err := h.dial(opEnroll, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	e.begin(opEnroll, nil)
	if res := e.stream(live); res["type"] != "result" {
		t.Fatalf("enroll: %v", res)
	}
	waitFree := func() {
		for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
			if r := h.check(); r.status == 200 {
				return
			}
		}
		t.Fatal("the slot was not freed")
	}
	// A measurement needs capacityMinFrames frames over capacityWindow: on
	// a busy machine an enrollment may decide on fewer.
	for tries := 0; ; tries++ {
		waitFree()
		n, _ := h.srv.capacity.sessions()
		if n == 1 {
			break
		}
		if n != 0 || tries == 5 {
			t.Fatalf("servable sessions %d, want 1", n)
		}
		a, _, err := h.dial(opAuthenticate, testOrigin)
		if err != nil {
			t.Fatal(err)
		}
		a.begin(opAuthenticate, nil)
		if res := a.stream(live); res["type"] != "result" {
			t.Fatalf("authenticate: %v", res)
		}
	}

	a, _, err := h.dial(opAuthenticate, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	a.begin(opAuthenticate, nil)

	r := h.check()
	if r.status != http.StatusTooManyRequests || r.body.FioCode != likeness.FioTooManyRequests ||
		r.retryAfter < 1 || r.body.RetryAfter != r.retryAfter || r.elapsed > time.Second {
		t.Fatalf("check beyond capacity: %d %+v Retry-After %d in %v, want 429, fioCode 15 and a retry hint at once",
			r.status, r.body, r.retryAfter, r.elapsed)
	}
	if strings.Contains(r.raw, "ms") || strings.Contains(r.raw, "capacity") {
		t.Errorf("the refusal says more than it should: %s", r.raw)
	}
	_, resp, err := h.dial(opAuthenticate, testOrigin)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("socket beyond capacity: %v %v, want 429 with Retry-After", resp, err)
	}

	if res := a.stream(live[len(live)/2:]); res["type"] != "result" {
		t.Fatalf("the admitted session: %v, want its result", res)
	}
	waitFree()
}

// checkReply is a /widget/check answer.
type checkReply struct {
	status, retryAfter int
	body               errorBody
	raw                string
	elapsed            time.Duration
}

// check asks /widget/check whether an authentication would be admitted.
func (h *harness) check() checkReply {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.ts.URL+"/widget/check?publicId="+h.app.PublicID+"&op=authenticate", nil)
	req.Header.Set("Origin", testOrigin)
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := checkReply{status: resp.StatusCode, raw: string(b), elapsed: time.Since(t0)}
	r.retryAfter, _ = strconv.Atoi(resp.Header.Get("Retry-After"))
	if r.status != 200 {
		_ = json.Unmarshal(b, &r.body)
	}
	return r
}

// countingEngine is the real engine, counting the Describe calls (the
// embedding and liveness models) a session makes.
type countingEngine struct {
	*engine.Engine
	describes atomic.Int64
}

func (c *countingEngine) Describe(ctx context.Context, img *engine.Image, f *engine.Face, want engine.Want) error {
	c.describes.Add(1)
	return c.Engine.Describe(ctx, img, f, want)
}

// TestModelsRunOnlyOnUsableFrames: frames that only earn guidance (the face
// too small here) get detection and landmarks but never the embedding or
// liveness models; each usable frame gets them exactly once.
func TestModelsRunOnlyOnUsableFrames(t *testing.T) {
	ce := &countingEngine{Engine: testEngine(t)}
	h := newHarness(t, Limits{}, func(c *Config) { c.Engine = ce })
	live := clip(t, "live_lmm_hamilton_640x480.mjpeg")
	far := farFrame(t, live[0])

	a, _, err := h.dial(opAuthenticate, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	a.begin(opAuthenticate, nil)
	for range 4 {
		if err := a.conn.WriteMessage(websocket.BinaryMessage, far); err != nil {
			t.Fatal(err)
		}
		if m := a.recv(); m["type"] != "guide" || m["hint"] == "hold_still" {
			t.Fatalf("a far face: %v, want guidance to come closer", m)
		}
	}
	if n := ce.describes.Load(); n != 0 {
		t.Fatalf("%d frames that only earned guidance ran the models", n)
	}
	for i := range 3 {
		time.Sleep(cameraInterval)
		if err := a.conn.WriteMessage(websocket.BinaryMessage, live[i]); err != nil {
			t.Fatal(err)
		}
		if m := a.recv(); m["type"] != "guide" || m["hint"] != "hold_still" {
			t.Fatalf("a usable frame: %v, want hold_still", m)
		}
	}
	if n := ce.describes.Load(); n != 3 {
		t.Fatalf("3 usable frames ran the models %d times, want 3", n)
	}
}

// farFrame is frame shrunk to a third in the middle of a grey 640×480
// picture: a person too far from the camera.
func farFrame(t *testing.T, frame []byte) []byte {
	t.Helper()
	src, err := jpeg.Decode(bytes.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	dst := image.NewRGBA(image.Rect(0, 0, 640, 480))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.Gray{128}), image.Point{}, draw.Src)
	b := src.Bounds()
	for y := 0; y < b.Dy()/3; y++ {
		for x := 0; x < b.Dx()/3; x++ {
			dst.Set(640/3+x, 480/3+y, src.At(b.Min.X+3*x, b.Min.Y+3*y))
		}
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestDecisionFPSDefault: admitted sessions are answered at four fifths of
// the widget's frame rate, never under the 5 a second a liveness decision
// needs (6 frames spanning 1 s); a configured rate is kept.
func TestDecisionFPSDefault(t *testing.T) {
	for _, tc := range []struct{ maxFPS, decision, want int }{
		{0, 0, 8}, // the widget's default 10
		{10, 0, 8},
		{15, 0, 12},
		{5, 0, 5}, // never under 5
		{2, 0, 5},
		{10, 10, 10}, // configured
		{10, 6, 6},
	} {
		l := Limits{MaxFPS: tc.maxFPS, DecisionFPS: tc.decision}.withDefaults(2)
		if l.DecisionFPS != tc.want {
			t.Errorf("MaxFPS %d, DecisionFPS %d: default %d, want %d", tc.maxFPS, tc.decision, l.DecisionFPS, tc.want)
		}
	}
}
