package metrics

import (
	"io"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/likeness/likeness/store/sqlite"
)

func page(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return string(b)
}

// TestLabelsAndRegistry: labels take only known values (a caller cannot
// grow the series without bound), the metrics live on their own registry,
// and the store's gauges read a real store (NaN once it stops answering).
func TestLabelsAndRegistry(t *testing.T) {
	db := sqlite.OpenTest(t)
	m, err := New(Sources{Backlog: db.PendingWebhooks, Pools: db.PoolStats})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ op, outcome, wantOp, wantOutcome string }{
		{"enroll", "ok", "enroll", "ok"},
		{"authenticate", "PAD_ATTACK", "authenticate", "PAD_ATTACK"},
		{"authenticate", "TOO_MANY_REQUESTS", "authenticate", "TOO_MANY_REQUESTS"},
		{"drop table", "ok", "other", "ok"},
		{"enroll", "anything an attacker sends", "enroll", "other"},
		{"enroll", "", "enroll", "other"},
	} {
		before := value(t, m, "likeness_session_outcomes_total", tc.wantOp, tc.wantOutcome)
		m.SessionEnded(tc.op, tc.outcome)
		if got := value(t, m, "likeness_session_outcomes_total", tc.wantOp, tc.wantOutcome); got != before+1 {
			t.Errorf("SessionEnded(%q, %q) counted under %s/%s: %v → %v", tc.op, tc.outcome, tc.wantOp, tc.wantOutcome, before, got)
		}
	}
	m.SessionStarted("x")
	m.Decided("enroll", 30*time.Millisecond)
	m.FrameProcessed(80 * time.Millisecond)
	p := page(t, m)
	for _, want := range []string{`likeness_sessions_started_total{op="other"} 1`, `likeness_decision_seconds_count{op="enroll"} 1`,
		`likeness_frame_seconds_bucket{le="0.08"} 1`, `likeness_webhook_backlog 0`, `likeness_db_max_open_connections{pool="writer"} 1`,
		`process_start_time_seconds`} {
		if !strings.Contains(p, want) {
			t.Errorf("no %s in\n%.3000s", want, p)
		}
	}
	if strings.Contains(p, "attacker") {
		t.Error("a caller's label value is on the page")
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "likeness_") {
			t.Errorf("%s is on the default registry", mf.GetName())
		}
	}
	db.Close()
	if v := value(t, m, "likeness_webhook_backlog"); !math.IsNaN(v) {
		t.Errorf("backlog of a closed store: %v, want NaN", v)
	}
}

// value reads one series through the registry: the counter or gauge name
// whose label values are labels, in order (0 when there is none).
func value(t *testing.T, m *Metrics, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, s := range mf.GetMetric() {
			for i, l := range s.GetLabel() {
				if i >= len(labels) || l.GetValue() != labels[i] {
					continue series
				}
			}
			if s.GetCounter() != nil {
				return s.GetCounter().GetValue()
			}
			return s.GetGauge().GetValue()
		}
	}
	return 0
}
