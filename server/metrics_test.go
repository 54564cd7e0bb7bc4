package server

import (
	"bufio"
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/likeness/likeness/metrics"
)

// scrape reads a Prometheus text page into series → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d", url, resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsAfterASession: a real enrollment moves the session, outcome
// and latency series; the store's and the engine's gauges are there; and
// /metrics is not served on the server's own (public) listener.
func TestMetricsAfterASession(t *testing.T) {
	var h *harness
	m, err := metrics.New(metrics.Sources{
		OpenSessions: func() int { return h.srv.OpenSessions() },
		Engine: func() (int, int, int) {
			s := testEngine(t).Stats()
			return s.Workers, s.Busy, s.Waiting
		},
		Backlog: func(ctx context.Context) (int, error) { return h.db.PendingWebhooks(ctx) },
		Pools:   func() map[string]sql.DBStats { return h.db.PoolStats() },
	})
	if err != nil {
		t.Fatal(err)
	}
	h = newHarness(t, Limits{}, func(c *Config) { c.Observer = m })
	ms := httptest.NewServer(m.Handler())
	defer ms.Close()

	before := scrape(t, ms.URL)
	for _, s := range []string{`likeness_sessions_open`, `likeness_engine_workers`, `likeness_engine_queue_length`,
		`likeness_webhook_backlog`, `likeness_db_open_connections{pool="writer"}`, `likeness_db_max_open_connections{pool="reader"}`,
		`go_goroutines`} {
		if _, ok := before[s]; !ok {
			t.Errorf("no %s", s)
		}
	}
	if before[`likeness_engine_workers`] < 1 || before[`likeness_db_max_open_connections{pool="writer"}`] != 1 {
		t.Errorf("engine workers %v, writer pool %v", before[`likeness_engine_workers`], before[`likeness_db_max_open_connections{pool="writer"}`])
	}

	c, _, err := h.dial(opEnroll, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	c.begin(opEnroll, nil)
	if got := scrape(t, ms.URL)[`likeness_sessions_open`]; got != 1 {
		t.Errorf("open sessions during the session: %v", got)
	}
	if res := c.stream(clip(t, "live_lmm_hamilton_640x480.mjpeg")); res["type"] != "result" {
		t.Fatalf("enroll: %v", res)
	}
	// The slot is freed before the reply and the outcome counted after it:
	// wait for both (a scrape right after the result may precede either).
	wants := map[string]float64{
		`likeness_sessions_started_total{op="enroll"}`:              1,
		`likeness_session_outcomes_total{op="enroll",outcome="ok"}`: 1,
		`likeness_decision_seconds_count{op="enroll"}`:              1,
		`likeness_sessions_open`:                                    0,
	}
	var after map[string]float64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		after = scrape(t, ms.URL)
		done := true
		for series, want := range wants {
			done = done && after[series] == want
		}
		if done || time.Now().After(deadline) {
			break
		}
	}
	for series, want := range wants {
		if after[series] != want {
			t.Errorf("%s = %v, want %v", series, after[series], want)
		}
	}
	if n := after[`likeness_frame_seconds_count`] - before[`likeness_frame_seconds_count`]; n < 3 {
		t.Errorf("%v frames observed, want the session's (at least 3)", n)
	}
	if after[`likeness_frame_seconds_sum`] <= 0 || after[`likeness_decision_seconds_sum{op="enroll"}`] <= 0 {
		t.Error("latencies were not observed")
	}

	resp, body := h.getJSON("/metrics", nil)
	if resp.StatusCode != http.StatusNotFound || strings.Contains(body, "likeness_") || strings.Contains(body, "go_") {
		t.Errorf("/metrics on the public listener: %d %.200s", resp.StatusCode, body)
	}
}
