package server

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/likeness/likeness"
)

func TestAdmitSession(t *testing.T) {
	// max 16 → 4 kept for applications other than the busiest; 4 per address.
	for _, tc := range []struct {
		name string
		use  slotUse
		want bool
	}{
		{"empty", slotUse{0, 0, 0}, true},
		{"one address at its limit", slotUse{5, 1, 4}, false},
		{"one address spread over applications", slotUse{4, 1, 4}, false},
		{"busiest application at its share", slotUse{12, 12, 0}, false},
		{"another application uses the reserve", slotUse{12, 0, 0}, true},
		{"the reserve too", slotUse{15, 3, 0}, true},
		{"all slots", slotUse{16, 0, 0}, false},
		{"over (a changed limit)", slotUse{20, 0, 0}, false},
		{"busiest just under its share", slotUse{11, 11, 3}, true},
	} {
		if got := admitSession(tc.use, 16, 4, 0); got != tc.want {
			t.Errorf("%s: admitSession(%+v) = %v, want %v", tc.name, tc.use, got, tc.want)
		}
	}
	if !admitSession(slotUse{}, 1, 1, 0) || admitSession(slotUse{1, 0, 0}, 1, 1, 0) {
		t.Error("a single slot")
	}
}

// wsFrom opens a widget socket as the client address ip (the test's
// loopback peer is a trusted proxy) and sends only `start`.
func (h *harness) wsFrom(t *testing.T, publicID, op, ip string) (*client, int) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/widget/ws?publicId=" + publicID + "&op=" + op
	hdr := http.Header{"Origin": {testOrigin}, "X-Forwarded-For": {ip}}
	conn, resp, err := websocket.DefaultDialer.Dial(u, hdr)
	if err != nil {
		if resp == nil {
			t.Fatal(err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn}
	c.send(map[string]any{"type": "start", "locale": "en"})
	return c, http.StatusSwitchingProtocols
}

// TestWidgetSlotsAndPhaseTimeouts: sockets that only send `start` cannot
// hold every widget session: one address is limited across applications,
// the busiest application leaves a quarter to the others, and every phase
// ends on its own timer, freeing the slot.
func TestWidgetSlotsAndPhaseTimeouts(t *testing.T) {
	lim := Limits{MaxSessions: 8, MaxSessionsPerIP: 3, StartWait: time.Second, FirstFrameWait: 2 * time.Second,
		ConsentWait: 2 * time.Second, PINWait: time.Second}
	h := newHarness(t, lim, func(c *Config) {
		c.Network.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	other, _, err := h.db.CreateApp(context.Background(), likeness.AppCreate{Name: "Other", Origins: []string{testOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	shop := h.app.PublicID
	var held []*client
	open := func(publicID, ip string, want int) {
		t.Helper()
		c, st := h.wsFrom(t, publicID, opAuthenticate, ip)
		if st != want {
			t.Fatalf("%s from %s: status %d, want %d", publicID, ip, st, want)
		}
		if c != nil {
			c.expect("capture")
			held = append(held, c)
		}
	}
	// One address: 3 sessions, then refused in every application.
	for range 3 {
		open(shop, "203.0.113.1", 101)
	}
	open(other.PublicID, "203.0.113.1", 429)
	check, _ := http.NewRequest("GET", h.ts.URL+"/widget/check?op=authenticate&publicId="+other.PublicID, nil)
	check.Header.Set("Origin", testOrigin)
	check.Header.Set("X-Forwarded-For", "203.0.113.1")
	if resp, err := http.DefaultClient.Do(check); err != nil || resp.StatusCode != 429 {
		t.Fatalf("widget/check for a full address: %v %v", resp, err)
	}
	// The busiest application holds at most 8 - 8/4 = 6; the rest is the others'.
	for i := range 3 {
		open(shop, "203.0.113."+itoa(10+i), 101)
	}
	open(shop, "203.0.113.20", 429)
	open(other.PublicID, "203.0.113.21", 101)
	open(other.PublicID, "203.0.113.22", 101)
	open(other.PublicID, "203.0.113.23", 429) // all 8 in use

	// No frame after start: each ends with TIMEOUT, and the slots free up.
	start := time.Now()
	for _, c := range held {
		wantError(t, c.recv(), likeness.FioTimeout)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("sessions without frames lasted %v", d)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, st := h.wsFrom(t, shop, opAuthenticate, "203.0.113.1")
		if st == 101 {
			c.expect("capture")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slots not freed: %d", st)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The consent screen has its own limit.
	e, st := h.wsFrom(t, shop, opEnroll, "198.51.100.7")
	if st != 101 {
		t.Fatalf("enroll: %d", st)
	}
	e.expect("consent")
	wantError(t, e.recv(), likeness.FioTermsNotAccepted)

	// No start at all.
	u := "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/widget/ws?publicId=" + shop + "&op=authenticate"
	conn, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {testOrigin}, "X-Forwarded-For": {"198.51.100.8"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	wantError(t, (&client{t: t, conn: conn}).recv(), likeness.FioTimeout)
}

// serveReal serves the harness's server through Serve on a loopback
// listener (httptest's server has no timeouts) and returns its address.
func serveReal(t *testing.T, h *harness) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go h.srv.Serve(ln)
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// closedWithin reports whether the server closes conn within d (reading
// and discarding whatever it sends first).
func closedWithin(conn net.Conn, d time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	return err == nil || !isTimeout(err) // EOF (nil from Copy) or a reset
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestSlowClientsAndConnectionCap: a body or headers trickled in are cut at
// the read timeouts, one address holds at most MaxConnsPerIP connections,
// and a widget session outlives the HTTP read timeout.
func TestSlowClientsAndConnectionCap(t *testing.T) {
	h := newHarness(t, Limits{ReadHeaderTimeout: 500 * time.Millisecond, ReadTimeout: time.Second,
		HTTPIdleTimeout: time.Second, MaxConnsPerIP: 6, FirstFrameWait: 10 * time.Second})
	slow := serveReal(t, h)
	addr := slow
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	trickle := func(c net.Conn, stop <-chan struct{}) {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := c.Write([]byte("1")); err != nil {
					return
				}
			}
		}
	}
	stop := make(chan struct{})
	defer close(stop)

	// A POST body trickled a byte at a time.
	body := dial()
	io.WriteString(body, "POST /setfacialidpincode HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\npin=")
	go trickle(body, stop)
	// Headers trickled a byte at a time.
	head := dial()
	io.WriteString(head, "GET /healthz HTTP/1.1\r\nX-Slow: ")
	go trickle(head, stop)
	start := time.Now()
	if !closedWithin(body, 4*time.Second) {
		t.Error("a trickled body kept its connection past the read timeout")
	}
	if !closedWithin(head, 4*time.Second) {
		t.Error("trickled headers kept their connection past the header timeout")
	}
	t.Logf("trickling clients cut after %v", time.Since(start).Round(10*time.Millisecond))

	// At most 6 connections from one address: a seventh is closed at once.
	// (A server whose header timeout does not close the idle ones first.)
	capped := newHarness(t, Limits{MaxConnsPerIP: 6})
	addr = serveReal(t, capped)
	var idle []net.Conn
	for range 6 {
		idle = append(idle, dial())
	}
	time.Sleep(100 * time.Millisecond) // let the server accept them
	if extra := dial(); !closedWithin(extra, 300*time.Millisecond) {
		t.Error("a seventh connection from one address was kept open")
	}
	// Closing one frees its place.
	idle[0].Close()
	time.Sleep(100 * time.Millisecond)
	ok := dial()
	io.WriteString(ok, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	ok.SetReadDeadline(time.Now().Add(2 * time.Second))
	if line, err := bufio.NewReader(ok).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Errorf("after one closed: %q %v", line, err)
	}

	// A widget session is not cut by the HTTP read timeout (1 s here).
	u := "ws://" + slow + "/widget/ws?publicId=" + h.app.PublicID + "&op=authenticate"
	conn, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {testOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &client{t: t, conn: conn}
	c.send(map[string]any{"type": "start", "locale": "en"})
	c.expect("capture")
	time.Sleep(2500 * time.Millisecond)
	c.send(map[string]any{"type": "camera", "ok": true})
	c.send(map[string]any{"type": "start"}) // a reply proves the socket still reads
	m := c.recv()
	if m["type"] != "error" || !strings.Contains(m["message"].(string), "Duplicate start") {
		t.Fatalf("after the read timeout: %v", m)
	}
}

// TestPINPromptTimeout: a PIN prompt left unanswered ends the session on its
// own timer, with capture's timers stopped.
func TestPINPromptTimeout(t *testing.T) {
	h := newHarness(t, Limits{PINWait: 1500 * time.Millisecond})
	h.setPolicy(map[string]any{"pin": "required"})
	c, _, err := h.dial(opEnroll, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	c.begin(opEnroll, nil)
	wantPIN(t, c.stream(clip(t, "live_lmm_hamilton_640x480.mjpeg")), "enroll")
	wantPIN(t, c.answerPIN("4829"), "confirm") // each prompt restarts the timer
	start := time.Now()
	wantError(t, c.recv(), likeness.FioTimeout)
	if d := time.Since(start); d < time.Second || d > 4*time.Second {
		t.Errorf("the PIN prompt ended after %v, want about 1.5 s", d)
	}
	if h.faceCount() != 0 {
		t.Error("a face was stored without its PIN")
	}
}
