package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/store/sqlite"
)

// getJSON GETs path and decodes the JSON reply into v.
func (h *harness) getJSON(path string, v any) (*http.Response, string) {
	h.t.Helper()
	resp, err := http.Get(h.ts.URL + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			h.t.Fatalf("%s: %v: %s", path, err, b)
		}
	}
	return resp, string(b)
}

// closedStore is a real store that was closed: its checks fail.
func closedStore(t *testing.T) *sqlite.DB {
	key, err := crypt.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "likeness.db"), sqlite.Options{MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	return db
}

func TestHealthAndReadiness(t *testing.T) {
	gone := closedStore(t)
	for _, tc := range []struct {
		name   string
		checks func(db *sqlite.DB) []ReadyCheck
		status int
		want   readyReply
	}{
		{"every check passes", func(db *sqlite.DB) []ReadyCheck {
			return []ReadyCheck{{"database", db.Ping}, {"engine", func(context.Context) error { return testEngine(t).Ready() }}}
		}, http.StatusOK, readyReply{Status: "ready", Checks: []checkResult{{"database", true}, {"engine", true}}}},
		{"the database is gone", func(db *sqlite.DB) []ReadyCheck {
			return []ReadyCheck{{"database", gone.Ping}, {"engine", func(context.Context) error { return testEngine(t).Ready() }}}
		}, http.StatusServiceUnavailable, readyReply{Status: "not_ready", Checks: []checkResult{{"database", false}, {"engine", true}}}},
		{"a check that hangs times out", func(db *sqlite.DB) []ReadyCheck {
			return []ReadyCheck{{"vectors", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}}
		}, http.StatusServiceUnavailable, readyReply{Status: "not_ready", Checks: []checkResult{{"vectors", false}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Limits{}, func(c *Config) { c.Ready = tc.checks(c.Apps.(*sqlite.DB)) })
			var got readyReply
			resp, body := h.getJSON("/readyz", &got)
			if resp.StatusCode != tc.status || got.Status != tc.want.Status || len(got.Checks) != len(tc.want.Checks) {
				t.Fatalf("/readyz: %d %s", resp.StatusCode, body)
			}
			for i := range got.Checks {
				if got.Checks[i] != tc.want.Checks[i] {
					t.Errorf("check %d: %+v, want %+v", i, got.Checks[i], tc.want.Checks[i])
				}
			}
			for _, bad := range []string{"closed", "sql", "deadline", "context", "error"} {
				if strings.Contains(strings.ToLower(body), bad) {
					t.Errorf("/readyz shows %q: %s", bad, body)
				}
			}
			if resp, body := h.getJSON("/healthz", nil); resp.StatusCode != http.StatusOK || body != "ok" {
				t.Errorf("/healthz: %d %q", resp.StatusCode, body)
			}
		})
	}
}

// TestDrainFinishesOpenSessions: once Drain begins, /readyz answers 503,
// new sessions are refused with Retry-After and FACEIO 15 (on the socket
// and on /widget/check), and the session in flight still completes.
func TestDrainFinishesOpenSessions(t *testing.T) {
	h := newHarness(t, Limits{})
	live := clip(t, "live_lmm_hamilton_640x480.mjpeg")
	c, _, err := h.dial(opEnroll, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	c.begin(opEnroll, nil)
	if n := h.srv.OpenSessions(); n != 1 {
		t.Fatalf("%d open sessions, want 1", n)
	}
	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		drained <- h.srv.Drain(ctx)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var r readyReply
		resp, body := h.getJSON("/readyz", &r)
		if resp.StatusCode == http.StatusServiceUnavailable && r.Status == "draining" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz while draining: %d %s", resp.StatusCode, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, resp, err := h.dial(opAuthenticate, testOrigin)
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a new session while draining: %v %+v", err, resp)
	}
	var eb errorBody
	json.NewDecoder(resp.Body).Decode(&eb)
	resp.Body.Close()
	if eb.FioCode != likeness.FioTooManyRequests {
		t.Errorf("refusal %+v, want fioCode 15", eb)
	}
	req, _ := http.NewRequest("GET", h.ts.URL+"/widget/check?publicId="+h.app.PublicID+"&op=authenticate", nil)
	req.Header.Set("Origin", testOrigin)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	eb = errorBody{}
	json.NewDecoder(r.Body).Decode(&eb)
	r.Body.Close()
	if r.StatusCode != http.StatusServiceUnavailable || eb.FioCode != likeness.FioTooManyRequests ||
		r.Header.Get("Access-Control-Allow-Origin") != testOrigin {
		t.Errorf("/widget/check while draining: %d %+v", r.StatusCode, eb)
	}
	select {
	case err := <-drained:
		t.Fatalf("Drain returned with a session open: %v", err)
	default:
	}
	if res := c.stream(live); res["type"] != "result" {
		t.Fatalf("the open session did not complete: %v", res)
	}
	if err := <-drained; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if h.faceCount() != 1 {
		t.Error("the enrollment made while draining was not stored")
	}
	if resp, body := h.getJSON("/healthz", nil); resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("/healthz while draining: %d %q", resp.StatusCode, body)
	}
}

// TestDrainDeadline: a session still open when the drain's deadline
// passes is ended by Shutdown with an error reply; sessions racing the
// drain are either refused or counted and waited for (run with -race).
func TestDrainDeadline(t *testing.T) {
	h := newHarness(t, Limits{StartWait: 300 * time.Millisecond, MaxSessionsPerIP: 64})
	c, _, err := h.dial(opAuthenticate, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	c.begin(opAuthenticate, nil) // and never sends a frame
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, resp, err := h.dial(opAuthenticate, testOrigin)
			if err != nil && (resp == nil || resp.StatusCode != http.StatusServiceUnavailable) {
				t.Errorf("a session racing the drain: %v", err)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := h.srv.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain with a session open: %v", err)
	}
	wg.Wait()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- h.srv.Shutdown(ctx)
	}()
	if m := c.recv(); m["type"] != "error" {
		t.Fatalf("got %v, want an error reply on shutdown", m)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := h.srv.OpenSessions(); n != 0 {
		t.Errorf("%d sessions open after Shutdown", n)
	}
}
